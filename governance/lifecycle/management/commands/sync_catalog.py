from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.catalog.models import Provider
from governance.catalog.sync import sync_provider
from governance.lifecycle.services import raise_shutdown_alerts

OUTCOMES = {"synced": "ok", "failed": "FAILED", "not_synced": "not synced"}


class Command(BaseCommand):
    help = "Read providers' GET /v1/models into the catalog (shutdown dates, new snapshots), then raise due alerts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("provider", nargs="?", help="A provider's slug; every provider when left out.")

    def handle(self, *args, provider: str | None = None, **options) -> None:
        providers = Provider.objects.order_by("slug")
        if provider:
            providers = providers.filter(slug=provider)
            if not providers.exists():
                raise CommandError(f"No provider '{provider}'.")
        failed = 0
        for each in providers:
            result = sync_provider(each, actor=Actor.system("sync_catalog"))
            failed += result.state == "failed"
            self.stdout.write(
                f"{result.provider}: {OUTCOMES[result.state]} — {result.message.removeprefix('Not synced: ')}"
            )
        alerts = raise_shutdown_alerts()
        self.stdout.write(f"{len(alerts)} shutdown alert{'s' if len(alerts) != 1 else ''} raised.")
        if failed:
            raise CommandError(
                f"{failed} provider{'s' if failed != 1 else ''} could not be synced; nothing changed there."
            )
