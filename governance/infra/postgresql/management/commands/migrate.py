"""Django's `migrate`, logged in as the owner of the tables, then the application role's grants."""

from django.conf import settings
from django.core.management import CommandError
from django.core.management.commands import migrate
from django.db import connections

from governance.infra.postgresql.roles import RoleRefused, grant_application_role, logged_in_as_owner


class Command(migrate.Command):
    help = (
        "Django's migrate, logged in as MIGRATE_DATABASE_URL's role when it is set; then, on PostgreSQL, "
        "grants DATABASE_APP_ROLE (by default DATABASE_URL's user when MIGRATE_DATABASE_URL is set) what the "
        "application needs and no more: the audit tables only to read and append to (docs/database-roles.md)."
    )

    def handle(self, *args, **options) -> None:
        connection = connections[options["database"]]
        with logged_in_as_owner(connection):
            super().handle(*args, **options)
            role = settings.DATABASE_APP_ROLE
            if role and connection.vendor == "postgresql" and not (options["plan"] or options["check_unapplied"]):
                self._grant(connection, role, options["verbosity"])

    def _grant(self, connection, role: str, verbosity: int) -> None:
        try:
            tables = grant_application_role(connection, role)
        except RoleRefused as refusal:
            raise CommandError(str(refusal)) from None
        if verbosity >= 1:
            self.stdout.write(f"Granted the application's role {role} its privileges on {tables} tables.")
