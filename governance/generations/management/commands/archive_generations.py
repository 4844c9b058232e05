from django.core.management.base import BaseCommand

from governance.generations.archive import archive_generation
from governance.generations.models import Generation
from governance.generations.providers import adapter_for
from governance.generations.upstream import UpstreamError


class Command(BaseCommand):
    help = (
        "Archive (and sign) completed generations that have no archived files yet: those completed before the "
        "archive existed. Each is copied from its provider while the provider still has it. Characters have no "
        "video of their own and are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="At most this many generations.")

    def handle(self, *args, limit: int | None, **options) -> None:
        pending = (
            Generation.objects.filter(status=Generation.Status.COMPLETED, deleted_at__isnull=True)
            .exclude(upstream_id="")
            .exclude(operation=Generation.Operation.CHARACTER)
            .filter(archived_files__isnull=True)
            .select_related("provider", "project", "environment", "policy_revision", "remixed_from")
            .order_by("pk")
        )
        archived = failed = 0
        for generation in pending[:limit] if limit else pending.iterator():
            try:
                archive_generation(generation, adapter_for(generation.provider))
                archived += 1
            except UpstreamError as error:
                failed += 1
                self.stderr.write(f"{generation.video_id}: {error.message}")
        self.stdout.write(f"Archived {archived} generations; {failed} could not be fetched from their provider.")
