"""Two PostgreSQL roles: the owner of the tables runs migrations, the application's role owns nothing.

An owner may `ALTER TABLE … DISABLE TRIGGER`, and the audit tables' append-only triggers are then
no guard at all. So `migrate` logs in as the owner (MIGRATE_DATABASE_URL) and, once it is done,
gives the application's role (DATABASE_APP_ROLE, by default DATABASE_URL's user) what the
application needs and no more: the ordinary tables to read and write, the audit tables to read and
append to. Each run applies the rule to every table anew, so a table that a later migration adds is
covered the day it arrives, an audit table included (docs/database-roles.md).
"""

import contextlib
from collections.abc import Iterator

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

ORDINARY = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND_ONLY = ("SELECT", "INSERT")
# Every table of these apps is read and appended to only, one added by a later migration included...
APPEND_ONLY_APPS = ("audit",)
# ...but for these few, each guarded by its own trigger: the chain head advances with every append.
ALSO_UPDATED = {"audit.AuditChainHead": ("UPDATE",)}
# Django's record of applied migrations: the application may read it; only `migrate` writes it.
READ_ONLY_TABLES = {"django_migrations": ("SELECT",)}


class RoleRefused(Exception):
    """The role named for the application would restrict nothing: it owns, or may become, what it should not touch."""


def table_privileges() -> dict[str, tuple[str, ...]]:
    """Each table and the privileges the application's role holds on it; it holds none besides these."""
    privileges = dict(READ_ONLY_TABLES)
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        if meta.app_label in APPEND_ONLY_APPS:
            privileges[meta.db_table] = APPEND_ONLY + ALSO_UPDATED.get(meta.label, ())
        else:
            privileges[meta.db_table] = ORDINARY
    return privileges


def grant_application_role(connection: BaseDatabaseWrapper, role: str) -> int:
    """Give `role` exactly table_privileges() on the tables that exist, in one transaction; returns how many.

    Runs as the owner of the tables. Whatever else the role held on them (TRUNCATE, TRIGGER,
    REFERENCES, UPDATE on an audit table) is revoked in the same transaction.
    """
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor, include_views=False))
        tables = {table: privileges for table, privileges in table_privileges().items() if table in existing}
        _refuse_unless_restricted(cursor, role)
        grantee = quote_identifier(role)
        for table, privileges in sorted(tables.items()):
            cursor.execute(f"REVOKE ALL ON TABLE {quote_identifier(table)} FROM {grantee}")
            cursor.execute(f"GRANT {', '.join(privileges)} ON TABLE {quote_identifier(table)} TO {grantee}")
            for sequence in connection.introspection.get_sequences(cursor, table):
                cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {quote_identifier(sequence['name'])} TO {grantee}")
    return len(tables)


def _refuse_unless_restricted(cursor, role: str) -> None:
    """Refuse a role that is the owner, a superuser, may act as the owner, or owns anything in the schema."""
    cursor.execute(
        """
        SELECT r.rolname = current_user, r.rolsuper, pg_has_role(r.oid, current_user, 'MEMBER'),
               pg_has_role(r.oid, n.nspowner, 'MEMBER')
               OR pg_has_role(r.oid, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER'),
               ARRAY(SELECT relname::text FROM pg_class WHERE relowner = r.oid AND relnamespace = n.oid
                     UNION ALL
                     SELECT proname::text FROM pg_proc WHERE proowner = r.oid AND pronamespace = n.oid
                     ORDER BY 1)
        FROM pg_roles r, pg_namespace n
        WHERE r.rolname = %s AND n.nspname = current_schema()
        """,
        [role],
    )
    row = cursor.fetchone()
    if row is None:
        raise RoleRefused(f"There is no role {role!r}: create it first (docs/database-roles.md).")
    is_migrator, is_superuser, acts_as_migrator, owns_schema, owned = row
    reasons = [
        (is_migrator, "is the role migrate runs as; set MIGRATE_DATABASE_URL to the owner's login"),
        (is_superuser, "is a superuser, whom no privilege or trigger restricts"),
        (acts_as_migrator, "is a member of the role migrate runs as, so it holds the owner's rights"),
        (owns_schema, "owns the schema or the database, so it may drop the audit tables with them"),
        (bool(owned), f"owns {', '.join(owned[:5])}{' and more' if len(owned) > 5 else ''}; an owner may "
         "disable the audit triggers: REASSIGN OWNED BY it TO the owner (docs/database-roles.md)"),
    ]  # fmt: skip
    for applies, reason in reasons:
        if applies:
            raise RoleRefused(f"Not granting the application's role {role!r}: it {reason}.")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def switch_login(connection: BaseDatabaseWrapper, login: dict) -> dict:
    """Close `connection` and have it log in with `login` (USER, PASSWORD, ...) from now on; returns the old login."""
    previous = {key: connection.settings_dict[key] for key in login}
    connection.close()
    connection.settings_dict.update(login)
    return previous


@contextlib.contextmanager
def logged_in_as_owner(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Run the block with `connection` logged in as MIGRATE_DATABASE_URL's role, when one is set."""
    owner = settings.MIGRATE_DATABASE_LOGIN
    if not owner:
        yield
        return
    previous = switch_login(connection, owner)
    try:
        yield
    finally:
        switch_login(connection, previous)
