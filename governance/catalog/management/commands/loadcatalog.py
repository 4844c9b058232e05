from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import Actor
from governance.catalog.services import CatalogPackError, available_packs, load_pack, read_pack


class Command(BaseCommand):
    help = "Load a catalog pack (a provider's snapshots and aliases) by name or path."

    def add_arguments(self, parser) -> None:
        parser.add_argument("pack", help=f"Pack name ({', '.join(available_packs())}) or path to a JSON file.")

    def handle(self, *args, pack: str, **options) -> None:
        try:
            changes = load_pack(read_pack(pack), actor=Actor.system("loadcatalog"))
        except CatalogPackError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{changes['provider']}: {len(changes['provider_changed'])} provider fields changed, "
            f"{len(changes['created'])} created, {len(changes['updated'])} updated, "
            f"{len(changes['replacements'])} replacements changed, {len(changes['repointed'])} aliases moved"
        )
