from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.audit import keys, proofs


class Command(BaseCommand):
    help = (
        "Verify an audit export (JSON Lines) offline: every event's hash and signature, and its proof against "
        "the signed checkpoint it carries. Needs no database; governance/audit/proofs.py does the same standalone."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The audit export, as JSON Lines.")
        parser.add_argument(
            "--public-key",
            default="",
            metavar="PEM",
            help="The audit public key to trust (default: the public half of this installation's key).",
        )

    def handle(self, *args, **options) -> None:
        try:
            public_key = (
                proofs.load_public_key(Path(options["public_key"]).read_bytes())
                if options["public_key"]
                else keys.public_key()
            )
            with open(options["file"], "rb") as export:
                result = proofs.verify_export(export, public_key)
        except (OSError, ValueError) as error:
            raise CommandError(f"Export does NOT verify: {error}") from None
        self.stdout.write(result.summary)
