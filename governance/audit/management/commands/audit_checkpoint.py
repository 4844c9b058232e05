from django.core.management.base import BaseCommand, CommandError

from governance.audit.checkpoints import CheckpointRefused, write_checkpoint


class Command(BaseCommand):
    help = "Sign a checkpoint of the audit chain now and keep it outside the database (AUDIT_CHECKPOINT_DIR)."

    def handle(self, *args, **options) -> None:
        try:
            checkpoint = write_checkpoint()
        except CheckpointRefused as error:
            raise CommandError(f"No checkpoint written: {error}.") from None
        self.stdout.write(
            f"Checkpoint written: {checkpoint.tree_size} events, root {checkpoint.root_hash}, "
            f"signed by audit key {checkpoint.key_id} at {checkpoint.timestamp}."
        )
