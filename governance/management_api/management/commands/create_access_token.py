from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.management_api.tokens import create_access_token
from governance.projects.models import Project


class Command(BaseCommand):
    help = (
        "Create a personal access token for the management API (/api/v1/), acting with the user's role. "
        "The token is printed once, alone, on the last line."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What uses it, e.g. 'release pipeline'.")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="SLUG",
            help="Limit the token to this project (repeat for more); without it, every project of the user.",
        )

    def handle(self, *args, username: str, name: str, project: list[str], **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user named '{username}'.")
        projects = list(Project.objects.filter(slug__in=project))
        missing = sorted(set(project) - {p.slug for p in projects})
        if missing:
            raise CommandError(f"No project has the slug {', '.join(missing)}.")
        try:
            token, raw_token = create_access_token(
                user=user, name=name, projects=projects, actor=Actor.system("create_access_token command")
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        scope = ", ".join(p.slug for p in projects) or "all their projects"
        self.stderr.write(
            f"Created token “{token.name}” ({token.prefix}…) for {username}, acting as them in {scope}. "
            "Store it now: it will not be shown again."
        )
        self.stdout.write(raw_token)
