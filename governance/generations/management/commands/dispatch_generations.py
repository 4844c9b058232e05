import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from governance.generations.tasks import dispatch_new_generations

# Stopped mid-dispatch, a batch already published but not yet marked sent would be sent again by the next
# dispatcher: the worker takes such a step once, but a deploy or Ctrl-C should not double its messages.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = (
        "Send the first step of every accepted generation still in the outbox to the worker, once, or every "
        "--every seconds until stopped. Beat does this every GENERATION_DISPATCH_SECONDS; a dispatcher of its "
        "own starts jobs sooner when beat's worker is busy. SIGTERM or Ctrl-C stops it once the batch under "
        "way is committed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="Keep dispatching, this many seconds apart.")

    def handle(self, *args, every: float | None, **options) -> None:
        if every is None:
            self.stdout.write(f"Dispatched {dispatch_new_generations()} generations.")
            return
        stopping = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stopping.set()) for signum in STOP_SIGNALS}
        try:
            while not stopping.is_set():
                close_old_connections()
                dispatch_new_generations(stopping=stopping.is_set)
                stopping.wait(every)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
