from django.core.management.base import BaseCommand, CommandError

from governance.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain; exits non-zero naming the first broken sequence number."

    def handle(self, *args, **options) -> None:
        result = verify_chain()
        if not result.intact:
            raise CommandError(f"Audit chain broken at sequence {result.broken_at}: {result.reason}.")
        self.stdout.write(f"Audit chain intact: {result.checked} events, head {result.head_hash}.")
