"""Name the plan behind every policy revision a migration plan wrote before revisions recorded it.

Plans have always written their revisions with a reason beginning "Migration plan #N" (then ":",
" completed" or " rolled back"); a revision whose plan N belongs to the same environment was
written by that plan.
"""

import re

from django.db import migrations

PLAN_REASON = re.compile(r"Migration plan #(\d+)[: ]")


def attribute_revisions(apps, schema_editor):
    PolicyRevision = apps.get_model("policies", "PolicyRevision")
    MigrationPlan = apps.get_model("snapshot_migrations", "MigrationPlan")
    environment_of_plan = dict(MigrationPlan.objects.values_list("pk", "environment_id"))
    written = PolicyRevision.objects.filter(reason__startswith="Migration plan #", written_by_plan__isnull=True)
    for pk, environment_id, reason in written.values_list("pk", "environment_id", "reason"):
        match = PLAN_REASON.match(reason)
        if match and environment_of_plan.get(int(match[1])) == environment_id:
            PolicyRevision.objects.filter(pk=pk).update(written_by_plan=int(match[1]))


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0004_policyrevision_written_by_plan"),
        ("snapshot_migrations", "0004_step_evidence_by"),
    ]

    operations = [migrations.RunPython(attribute_revisions, migrations.RunPython.noop)]
