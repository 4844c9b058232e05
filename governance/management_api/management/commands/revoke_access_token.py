from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.management_api.models import AccessToken
from governance.management_api.tokens import revoke_access_token


class Command(BaseCommand):
    help = "Revoke a user's personal access tokens by name or by prefix; they stop working at once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        chosen = parser.add_mutually_exclusive_group(required=True)
        chosen.add_argument("--name", help="Revoke the user's working tokens of this name.")
        chosen.add_argument("--prefix", help="Revoke the token with this prefix (sgp_… as listed).")

    def handle(self, *args, username: str, name: str | None, prefix: str | None, **options) -> None:
        tokens = AccessToken.objects.active().filter(user__username=username)
        tokens = tokens.filter(name=name) if name is not None else tokens.filter(prefix=prefix.rstrip("…"))
        if not tokens.exists():
            raise CommandError(f"{username} has no working token {'named ' + repr(name) if name else prefix}.")
        for token in tokens:
            revoke_access_token(token=token, actor=Actor.system("revoke_access_token command"))
            self.stdout.write(f"Revoked “{token.name}” ({token.prefix}…).")
