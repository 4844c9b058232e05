import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def move_the_waiting_into_the_outbox_table(apps, schema_editor):
    """Generations accepted but not yet dispatched waited with no next check: they get their outbox entry and the
    next check a newly accepted one has."""
    Generation = apps.get_model("generations", "Generation")
    OutboxEntry = apps.get_model("generations", "OutboxEntry")
    waiting = Generation.objects.filter(status="queued", next_check_at__isnull=True)
    entries = [
        OutboxEntry(generation_id=pk, step_token=token, request_id=request_id, accepted_at=created_at)
        for pk, token, request_id, created_at in waiting.values_list(
            "pk", "step_token", "request_id", "created_at"
        ).iterator()
    ]
    OutboxEntry.objects.bulk_create(entries, batch_size=1000)
    next_check_at = timezone.now() + dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS)
    Generation.objects.filter(pk__in=[entry.generation_id for entry in entries]).update(next_check_at=next_check_at)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0016_generation_budget_lease"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxEntry",
            fields=[
                (
                    "generation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="outbox_entry",
                        serialize=False,
                        to="generations.generation",
                    ),
                ),
                ("step_token", models.CharField(max_length=32)),
                ("request_id", models.CharField(blank=True, max_length=128)),
                ("accepted_at", models.DateTimeField()),
            ],
            options={
                "db_table": "generations_outbox",
            },
        ),
        migrations.RunPython(move_the_waiting_into_the_outbox_table, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="generation",
            name="generation_awaiting_dispatch",
        ),
    ]
