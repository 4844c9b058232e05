from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from governance.audit import keys, proofs


class Command(BaseCommand):
    help = (
        "Make an Ed25519 audit signing key at AUDIT_SIGNING_KEY_FILE (or --path), readable by its owner only, "
        "and print its public key for auditors to keep."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", default=settings.AUDIT_SIGNING_KEY_FILE)
        parser.add_argument("--public-key-out", default="", metavar="FILE", help="Also write the public key here.")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        made = keys.create_signing_key(path)
        public_key = keys.read_signing_key(path).public_key()
        pem = proofs.public_key_pem(public_key)
        if options["public_key_out"]:
            Path(options["public_key_out"]).write_text(pem)
        verb = "Made" if made else "Kept the existing"
        self.stdout.write(f"{verb} audit signing key {path} (key id {proofs.key_id(public_key)}). Public key:")
        self.stdout.write(pem, ending="")
