from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from governance.content_credentials.identity import CHAIN_FILE, create_development_identity, load_identity


class Command(BaseCommand):
    help = "Create a development CA and an EC P-256 claim-signing certificate for Content Credentials."

    def add_arguments(self, parser):
        parser.add_argument("--directory", default=str(settings.CONTENT_SIGNING_DIR), help="Where to write them.")
        parser.add_argument("--force", action="store_true", help="Replace an identity that already exists there.")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing (quietly) when one exists.")

    def handle(self, *args, directory: str, force: bool, if_missing: bool, **options) -> None:
        target = Path(directory)
        if (target / CHAIN_FILE).exists() and not force:
            if not if_missing:
                self.stdout.write(f"A signing identity already exists in {target}; --force replaces it.")
            return
        create_development_identity(target)
        identity = load_identity()
        fingerprint = identity.fingerprint if identity else "(not the configured location)"
        self.stdout.write(f"Created a development signing identity in {target}; certificate SHA-256 {fingerprint}")
