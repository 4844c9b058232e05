"""The chain head gets the events' guards: it cannot be deleted, truncated or moved anywhere but one step on.

An UPDATE must advance the head by exactly one, to the event just appended: the one whose hash
it takes and whose previous-hash is the head's hash now. A head moved back over cut-off events,
or forward over a gap, is refused whoever asks (short of lifting the triggers, which the
application's database role may not do: docs/database-roles.md).
"""

from django.db import migrations

GENESIS = "0" * 64

POSTGRESQL_GUARDS = f"""
CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.sequence = 0 AND NEW.hash = '{GENESIS}' THEN RETURN NEW; END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id AND NEW.sequence = OLD.sequence + 1 AND EXISTS (
            SELECT 1 FROM audit_auditevent e
            WHERE e.sequence = NEW.sequence AND e.hash = NEW.hash AND e.previous_hash = OLD.hash
        ) THEN RETURN NEW; END IF;
    END IF;
    RAISE EXCEPTION 'the audit chain head only advances one appended event at a time: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_chain_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_auditchainhead;
DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_auditchainhead;
DROP FUNCTION IF EXISTS audit_chain_head_guard();
"""
SQLITE_GUARDS = [
    "CREATE TRIGGER audit_chain_head_insert BEFORE INSERT ON audit_auditchainhead "
    f"WHEN NEW.sequence <> 0 OR NEW.hash <> '{GENESIS}' "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head starts at the genesis: INSERT refused'); END;",
    "CREATE TRIGGER audit_chain_head_update BEFORE UPDATE ON audit_auditchainhead "
    "WHEN NEW.id <> OLD.id OR NEW.sequence <> OLD.sequence + 1 OR NOT EXISTS ("
    "SELECT 1 FROM audit_auditevent e "
    "WHERE e.sequence = NEW.sequence AND e.hash = NEW.hash AND e.previous_hash = OLD.hash) "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head only advances one appended event at a time: UPDATE refused'); "
    "END;",
    "CREATE TRIGGER audit_chain_head_delete BEFORE DELETE ON audit_auditchainhead "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be removed: DELETE refused'); END;",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_chain_head_insert;",
    "DROP TRIGGER IF EXISTS audit_chain_head_update;",
    "DROP TRIGGER IF EXISTS audit_chain_head_delete;",
]


def create_guards(apps, schema_editor) -> None:
    statements = {"postgresql": [POSTGRESQL_GUARDS], "sqlite": SQLITE_GUARDS}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def drop_guards(apps, schema_editor) -> None:
    statements = {"postgresql": [POSTGRESQL_DROP], "sqlite": SQLITE_DROP}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_event_signatures")]

    operations = [migrations.RunPython(create_guards, drop_guards)]
