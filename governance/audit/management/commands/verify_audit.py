from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.audit.verification import ChainVerification, verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit chain: every event's place, link and hash, every event after the newest signed "
        "checkpoint's signature, and the chain against every signed checkpoint (the events a checkpoint covers "
        "must rebuild its Merkle root). Exits non-zero naming the first sequence number that disagrees."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strict", action="store_true", help="Fail when no checkpoint exists yet.")
        parser.add_argument(
            "--full",
            action="store_true",
            help="Also check the signature of every event the newest checkpoint covers (slower).",
        )

    def handle(self, *args, **options) -> None:
        result = verify_chain(full=options["full"])
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
            f"({newest.timestamp}). {signatures(result)}"
        )


def signatures(result: ChainVerification) -> str:
    """Which events' own signatures were checked, and which the newest checkpoint's signature stood for."""
    if not result.held_by_checkpoint:
        return "Every event's signature was checked."
    after = result.checked - result.held_by_checkpoint
    return (
        f"Events 1 to {result.held_by_checkpoint} rebuild that checkpoint's signed Merkle root, each from its "
        f"recomputed hash; the signatures of the {after} after it were checked (--full checks every one)."
    )
