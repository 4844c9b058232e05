from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.projects.models import Environment, EnvironmentName
from governance.projects.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a project environment. The key is printed once, alone, on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug, e.g. demo.")
        parser.add_argument("environment", choices=EnvironmentName.values)
        parser.add_argument("--name", default="", help="A name to recognise the key by.")

    def handle(self, *args, project: str, environment: str, name: str, **options) -> None:
        target = Environment.objects.select_related("project").filter(project__slug=project, name=environment).first()
        if target is None:
            raise CommandError(f"No environment '{environment}' in project '{project}'.")
        api_key, raw_key = create_api_key(
            environment=target, name=name or f"{environment} key", actor=Actor.system("create_api_key command")
        )
        self.stderr.write(f"Created key {api_key.prefix}… for {target}. Store it now: it will not be shown again.")
        self.stdout.write(raw_key)
