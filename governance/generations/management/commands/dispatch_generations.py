import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from governance.generations.tasks import dispatch_outbox, note_dispatcher_running, note_dispatcher_stopped

# Stopped mid-dispatch, a batch already published but not yet marked sent would be sent again by the next
# dispatcher: the worker takes such a step once, but a deploy or Ctrl-C should not double its messages.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How often a running dispatcher tells beat so (beat's dispatch stands down meanwhile).
RUNNING_NOTE_SECONDS = 1.0
DATABASE_RETRY_SECONDS = 1.0

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Send the first step of every accepted generation still in the outbox to the worker, once, or every "
        "--every seconds until stopped (0.1 in production: docs/operations.md). While a dispatcher runs, beat's "
        "dispatch every GENERATION_DISPATCH_SECONDS stands down. SIGTERM or Ctrl-C stops it once the batch under "
        "way is committed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="Keep dispatching, this many seconds apart.")

    def handle(self, *args, every: float | None, **options) -> None:
        if every is None:
            self.stdout.write(f"Dispatched {dispatch_outbox()} generations.")
            return
        stopping = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stopping.set()) for signum in STOP_SIGNALS}
        noted_at = -RUNNING_NOTE_SECONDS
        try:
            while not stopping.is_set():
                if time.monotonic() - noted_at >= RUNNING_NOTE_SECONDS:
                    note_dispatcher_running()
                    noted_at = time.monotonic()
                close_old_connections()
                try:
                    dispatch_outbox(stopping=stopping.is_set)
                except DatabaseError:
                    # A restarting database: the rows wait in the outbox, and the next dispatch reconnects.
                    logger.warning("could not read the outbox; the next dispatch retries", exc_info=True)
                    stopping.wait(max(every, DATABASE_RETRY_SECONDS))
                    continue
                stopping.wait(every)
        finally:
            note_dispatcher_stopped()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
