"""Every audit event carries an Ed25519 signature of its hash; events recorded before this are signed now.

Signing the existing events updates rows the append-only triggers guard, so the migration (run
as the tables' owner) lifts the update trigger while it signs and puts it back. On SQLite, adding
the column rebuilds the table, which drops its triggers: they are put back here too.
"""

from django.db import migrations, models

from governance.audit import keys, proofs

SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;",
]


def sign_existing_events(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    AuditEvent = apps.get_model("audit", "AuditEvent")
    unsigned = list(AuditEvent.objects.filter(signature="").values_list("pk", "hash"))
    if unsigned:
        key = keys.signing_key()
        if vendor == "postgresql":
            schema_editor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_or_delete")
        elif vendor == "sqlite":
            schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        for pk, event_hash in unsigned:
            AuditEvent.objects.filter(pk=pk).update(signature=proofs.sign_event_hash(key, event_hash))
        if vendor == "postgresql":
            schema_editor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_update_or_delete")
    if vendor == "sqlite":
        for statement in SQLITE_APPEND_ONLY:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="signature",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RunPython(sign_existing_events, migrations.RunPython.noop),
    ]
