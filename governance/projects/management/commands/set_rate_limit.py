from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.projects.models import Environment, EnvironmentName
from governance.projects.services import set_rate_limit


class Command(BaseCommand):
    help = "Set how many gateway requests per minute each API key of an environment may make (0: no limit)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug, e.g. demo.")
        parser.add_argument("environment", choices=EnvironmentName.values)
        parser.add_argument("per_minute", type=int, help="Requests per minute per key; 0 turns the limit off.")

    def handle(self, *args, project: str, environment: str, per_minute: int, **options) -> None:
        if per_minute < 0:
            raise CommandError("per_minute is 0 (no limit) or a positive number.")
        target = Environment.objects.select_related("project").filter(project__slug=project, name=environment).first()
        if target is None:
            raise CommandError(f"No environment '{environment}' in project '{project}'.")
        set_rate_limit(environment=target, per_minute=per_minute, actor=Actor.system("set_rate_limit command"))
        limit = f"{per_minute} requests per minute per key" if per_minute else "no rate limit"
        self.stdout.write(f"{target}: {limit}.")
