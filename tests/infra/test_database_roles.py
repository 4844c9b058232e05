"""The application's PostgreSQL role reads and appends audit rows and can do nothing else to them.

The PostgreSQL tests need the two roles of docs/database-roles.md, as CI runs them: DATABASE_URL
logs in as the application's role and MIGRATE_DATABASE_URL as the owner of the tables, which
created and migrated the test database. The tests' own connection is then the application's.
"""

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import Actor, record_event
from governance.audit.verification import verify_chain
from governance.infra.postgresql.roles import (
    APPEND_ONLY,
    ORDINARY,
    RoleRefused,
    grant_application_role,
    table_privileges,
)
from governance.projects.models import Project
from governance.settings import owner_login
from tests.factories import make_api_key, make_environment, make_member, make_user

on_restricted_role = pytest.mark.skipif(
    connection.vendor != "postgresql" or not settings.MIGRATE_DATABASE_LOGIN,
    reason="needs PostgreSQL with the two roles (DATABASE_URL the application's, MIGRATE_DATABASE_URL the owner's), "
    "as CI runs it; SQLite has no roles or privileges",
)
AUDIT_TABLES = [model._meta.db_table for model in apps.get_app_config("audit").get_models(include_auto_created=True)]
EVERY_PRIVILEGE = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def refused(statement: str, params: list | None = None) -> str:
    """Run `statement` as the application; the database's refusal, or a failure if it was allowed."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    except DatabaseError as error:
        return str(error)
    pytest.fail(f"The application's role was allowed: {statement}")


def user_triggers(table: str) -> list[tuple[str, str]]:
    """The table's own triggers (not foreign-key ones) and each one's function."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgfoid::regprocedure::text FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [table],
        )
        return cursor.fetchall()


@pytest.fixture
def chain():
    record_event(action="catalog.loaded", actor=Actor.system("tests"))
    record_event(action="policy.revised", actor=Actor.system("tests"))


@on_restricted_role
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "statement"),
    [
        (table, statement)
        for table in AUDIT_TABLES
        for statement in ("UPDATE {table} SET id = id", "DELETE FROM {table}", "TRUNCATE {table}")
        # The head is advanced by every append: its own trigger allows only that.
        if not (table == AuditChainHead._meta.db_table and statement.startswith("UPDATE"))
    ],
)
def test_it_cannot_change_delete_or_truncate_audit_rows(chain, table, statement):
    message = refused(statement.format(table=table))

    assert f"permission denied for table {table}" in message


@on_restricted_role
@pytest.mark.django_db
@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "ALTER TABLE {table} DISABLE TRIGGER ALL",
        "ALTER TABLE {table} ADD COLUMN forged text",
        "ALTER TABLE {table} OWNER TO CURRENT_USER",
        "DROP TABLE {table} CASCADE",
    ],
)
def test_it_cannot_alter_disable_the_triggers_of_or_drop_an_audit_table(chain, table, statement):
    assert f"must be owner of table {table}" in refused(statement.format(table=table))


@on_restricted_role
@pytest.mark.django_db
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_it_cannot_drop_or_replace_the_triggers_that_guard_an_audit_table(table):
    for trigger, function in user_triggers(table):
        assert f"must be owner of relation {table}" in refused(f"DROP TRIGGER {trigger} ON {table}")
        assert "must be owner of function" in refused(f"DROP FUNCTION {function} CASCADE")
        assert "must be owner of function" in refused(f"ALTER FUNCTION {function} OWNER TO CURRENT_USER")


@on_restricted_role
@pytest.mark.django_db
def test_it_cannot_switch_the_triggers_off_for_its_session():
    assert 'permission denied to set parameter "session_replication_role"' in refused(
        "SET LOCAL session_replication_role = replica"
    )


@on_restricted_role
@pytest.mark.django_db
def test_it_owns_nothing_is_no_superuser_and_cannot_become_the_owner():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, pg_has_role(current_user, %s, 'MEMBER'), pg_has_role(current_user, "
            "  (SELECT nspowner FROM pg_namespace WHERE nspname = current_schema()), 'MEMBER'), "
            "ARRAY(SELECT relname::text FROM pg_class WHERE relowner = to_regrole(current_user) "
            "      AND relnamespace = to_regnamespace(current_schema())) "
            "FROM pg_roles WHERE rolname = current_user",
            [settings.MIGRATE_DATABASE_LOGIN["USER"]],
        )
        superuser, member_of_owner, owns_schema, owned = cursor.fetchone()

    assert (superuser, member_of_owner, owns_schema, owned) == (False, False, False, [])
    assert refused(f"SET ROLE {settings.MIGRATE_DATABASE_LOGIN['USER']}").startswith("permission denied to set role")


@on_restricted_role
@pytest.mark.django_db
def test_its_privileges_are_read_and_append_on_audit_tables_and_read_write_elsewhere():
    def held(table: str) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT privilege FROM unnest(%s::text[]) AS privilege "
                "WHERE has_table_privilege(current_user, %s, privilege)",
                [list(EVERY_PRIVILEGE), table],
            )
            return {row[0] for row in cursor.fetchall()}

    assert held(AuditEvent._meta.db_table) == {"SELECT", "INSERT"}
    assert held(AuditChainHead._meta.db_table) == {"SELECT", "INSERT", "UPDATE"}
    assert {table: held(table) for table in AUDIT_TABLES} == {
        table: set(privileges) for table, privileges in table_privileges().items() if table in AUDIT_TABLES
    }
    assert held(Project._meta.db_table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert held("django_migrations") == {"SELECT"}


@on_restricted_role
@pytest.mark.django_db
def test_it_still_appends_to_the_chain_and_does_ordinary_work():
    environment = make_environment()  # a policy revision: an audit event
    make_api_key(environment)
    member = make_member(environment.project)
    Project.objects.filter(pk=environment.project.pk).update(name="Renamed")
    make_user().delete()
    event = record_event(action="catalog.loaded", actor=Actor.system("tests"), target=environment.project)

    result = verify_chain()
    assert result.intact, result.reason
    assert result.checked == AuditEvent.objects.count() >= 3
    assert AuditChainHead.objects.get(pk=1).sequence == event.sequence
    assert member.memberships.exists()


@on_restricted_role
@pytest.mark.django_db(transaction=True)
def test_the_triggers_still_refuse_the_owner_what_its_privileges_allow():
    """The owner holds every privilege; the audit tables' triggers still refuse it, unless it disables them."""
    record_event(action="catalog.loaded", actor=Actor.system("tests"))
    login = {**connection.settings_dict, **settings.MIGRATE_DATABASE_LOGIN}
    owner = type(connections[DEFAULT_DB_ALIAS])(login, alias="owner")
    try:
        for statement in ("UPDATE audit_auditevent SET actor_label = 'x'", "DELETE FROM audit_auditevent"):
            with pytest.raises(DatabaseError, match="append-only"), owner.cursor() as cursor:
                cursor.execute(statement)
            owner.rollback()
    finally:
        owner.close()
    assert verify_chain().intact


@on_restricted_role
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "reason"),
    [
        (lambda: settings.DATABASE_APP_ROLE, "is the role migrate runs as"),
        (lambda: "postgres", "is a superuser"),
        (lambda: "no_such_role_here", "There is no role"),
    ],
)
def test_migrate_refuses_to_grant_to_a_role_that_would_restrict_nothing(role, reason):
    with pytest.raises(RoleRefused, match=reason):
        grant_application_role(connection, role())


def test_every_audit_table_is_append_only_for_the_application_and_every_other_read_write():
    privileges = table_privileges()

    for model in apps.get_models(include_auto_created=True):
        table, label = model._meta.db_table, model._meta.label
        if model._meta.app_label == "audit":
            expected = (*APPEND_ONLY, "UPDATE") if label == "audit.AuditChainHead" else APPEND_ONLY
        else:
            expected = ORDINARY
        assert privileges[table] == expected, label


POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "governance", "USER": "governance_app", "OPTIONS": {}}


def test_migrate_logs_in_as_the_owner_to_the_same_database():
    login = owner_login("postgres://governance_owner:s3cret@db.internal:6432/governance?sslmode=require", POSTGRES)

    assert login == {
        "USER": "governance_owner",
        "PASSWORD": "s3cret",
        "HOST": "db.internal",
        "PORT": 6432,
        "OPTIONS": {"sslmode": "require"},
    }
    assert owner_login("", POSTGRES) == {}


@pytest.mark.parametrize(
    ("url", "database", "message"),
    [
        ("postgres://governance_owner@db/other", POSTGRES, "must name the same database"),
        ("postgres://governance_app@db/governance", POSTGRES, "log in as the same role"),
        ("postgres://governance_owner@db/governance", {"ENGINE": "django.db.backends.sqlite3"}, "is for PostgreSQL"),
    ],
)
def test_a_migrate_login_that_could_not_work_stops_the_start(url, database, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        owner_login(url, database)
