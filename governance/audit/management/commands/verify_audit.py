from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.audit.verification import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit chain: every event's hash, link and signature, and the chain against every signed "
        "checkpoint. Exits non-zero naming the first sequence number that disagrees."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strict", action="store_true", help="Fail when no checkpoint exists yet.")

    def handle(self, *args, **options) -> None:
        result = verify_chain()
        if not result.intact:
            where = f" at sequence {result.broken_at}" if result.broken_at is not None else ""
            raise CommandError(f"Audit chain broken{where}: {result.reason}.")
        newest = result.newest_checkpoint
        if newest is None:
            message = "no checkpoint exists yet (write one with `python manage.py audit_checkpoint`)"
            if options["strict"]:
                raise CommandError(f"Audit chain unproven: {message}.")
            self.stdout.write(f"Audit chain intact: {result.checked} events, head {result.head_hash}; {message}.")
            return
        self.stdout.write(
            f"Audit chain intact: {result.checked} events, head {result.head_hash}; it agrees with "
            f"{result.checkpoints} signed checkpoints, the newest covering {newest.tree_size} events "
            f"({newest.timestamp})."
        )
