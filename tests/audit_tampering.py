"""What a database superuser can do and the application cannot: bypass the audit tables' triggers."""

import contextlib
import importlib
from collections.abc import Iterator

from django.db import connection, transaction

_head_guards = importlib.import_module("governance.audit.migrations.0004_chain_head_guards")
SQLITE_TRIGGERS = {
    "audit_event_no_update": "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;",
    "audit_event_no_delete": "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;",
    **{statement.split()[2]: statement for statement in _head_guards.SQLITE_GUARDS},
}


@contextlib.contextmanager
def as_database_superuser() -> Iterator[None]:
    """Run the block with the append-only triggers out of the way, as an intruder with superuser rights would."""
    with transaction.atomic(), connection.cursor() as cursor:
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
