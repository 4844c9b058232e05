"""What an intruder with the database's highest rights can do and the application cannot: bypass the audit guards.

The application's own role cannot: on SQLite the test drops the triggers for the block; on PostgreSQL
as a superuser it skips them (session_replication_role). With the two roles of docs/database-roles.md
(MIGRATE_DATABASE_URL set, as in CI) the tests connect as the restricted role, which may neither
change an audit row nor disable a trigger. There the owner lends the tests' session its rights for
one block, through two functions it creates in the test database only (never by a migration):
they grant what the session lacks on every table and disable the user triggers, inside the
session's own transaction, so the tampering sees the test's uncommitted rows; then take it all back.
"""

import contextlib
import importlib
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction

from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import event_hash

_head_guards = importlib.import_module("governance.audit.migrations.0004_chain_head_guards")
SQLITE_TRIGGERS = {
    "audit_event_no_update": "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;",
    "audit_event_no_delete": "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;",
    **{statement.split()[2]: statement for statement in _head_guards.SQLITE_GUARDS},
}

# Each takes effect in the caller's transaction: what the lending does, the returning undoes,
# statement by statement, from a list only these functions (running as the owner) can write.
POSTGRESQL_LENDING = """
CREATE OR REPLACE FUNCTION governance_test_lend_owner_rights() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    home oid := to_regnamespace(%(schema)s);
    t record;
    privilege text;
BEGIN
    CREATE TEMPORARY TABLE IF NOT EXISTS governance_test_lent (undo text) ON COMMIT DROP;
    FOR t IN SELECT c.oid, c.relname FROM pg_class c
             WHERE c.relnamespace = home AND c.relkind IN ('r', 'p') AND c.relowner = to_regrole(current_user) LOOP
        FOREACH privilege IN ARRAY ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] LOOP
            IF NOT has_table_privilege(session_user, t.oid, privilege) THEN
                EXECUTE format('GRANT %%s ON TABLE %%s TO %%I', privilege, t.oid::regclass, session_user);
                INSERT INTO governance_test_lent
                    VALUES (format('REVOKE %%s ON TABLE %%s FROM %%I', privilege, t.oid::regclass, session_user));
            END IF;
        END LOOP;
        IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = t.oid AND NOT tgisinternal AND tgenabled <> 'D') THEN
            EXECUTE format('ALTER TABLE %%s DISABLE TRIGGER USER', t.oid::regclass);
            INSERT INTO governance_test_lent VALUES (format('ALTER TABLE %%s ENABLE TRIGGER USER', t.oid::regclass));
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION governance_test_return_owner_rights() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    statement text;
BEGIN
    FOR statement IN DELETE FROM governance_test_lent RETURNING undo LOOP
        EXECUTE statement;
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION governance_test_lend_owner_rights(), governance_test_return_owner_rights() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION governance_test_lend_owner_rights(), governance_test_return_owner_rights() TO %(role)s;
"""


def install_owner_rights_for_tampering(role: str) -> None:
    """As the owner of the test database's tables: let `role` borrow the owner's rights (see the module's doc)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
        literal = "'" + schema.replace("'", "''") + "'"
        cursor.execute(POSTGRESQL_LENDING % {"schema": literal, "role": connection.ops.quote_name(role)})


@contextlib.contextmanager
def as_database_superuser() -> Iterator[None]:
    """Run the block with the audit guards out of the way, as an intruder with the owner's or a superuser's rights."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and settings.MIGRATE_DATABASE_LOGIN:
            cursor.execute("SELECT governance_test_lend_owner_rights()")
            yield
            cursor.execute("SELECT governance_test_return_owner_rights()")
            return
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield
            return
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        try:
            yield
        finally:
            for statement in SQLITE_TRIGGERS.values():
                cursor.execute(statement)


def forge_append(*, action: str, payload: dict) -> AuditEvent:
    """A plain INSERT of a made-up event, hashed with the product's own code, and the head moved onto it."""
    head = AuditChainHead.objects.get(pk=1)
    last = AuditEvent.objects.get(sequence=head.sequence)
    forged = AuditEvent(
        sequence=head.sequence + 1,
        occurred_at=last.occurred_at,
        actor_type="user",
        actor_label="approver",
        action=action,
        payload=payload,
        previous_hash=head.hash,
        signature=last.signature,  # the forger has no key: the best they can do is copy a signature
    )
    forged.hash = event_hash(forged)
    forged.save()
    AuditChainHead.objects.filter(pk=1).update(sequence=forged.sequence, hash=forged.hash)
    return forged


def cut_off_last(count: int) -> None:
    """Delete the newest events and move the head back over them, with the triggers out of the way."""
    head = AuditChainHead.objects.get(pk=1)
    keep = head.sequence - count
    with as_database_superuser():
        AuditEvent.objects.filter(sequence__gt=keep).delete()
        AuditChainHead.objects.filter(pk=1).update(sequence=keep, hash=AuditEvent.objects.get(sequence=keep).hash)


def rewrite(sequence: int, payload: dict) -> None:
    """Change one event, then recompute every later hash and the head, as a careful intruder would."""
    with as_database_superuser():
        previous_hash = AuditEvent.objects.get(sequence=sequence).previous_hash
        for event in AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"):
            if event.sequence == sequence:
                event.payload = payload
            event.previous_hash = previous_hash
            event.hash = previous_hash = event_hash(event)
            AuditEvent.objects.filter(pk=event.pk).update(
                payload=event.payload, previous_hash=event.previous_hash, hash=event.hash
            )
        AuditChainHead.objects.filter(pk=1).update(hash=previous_hash)
