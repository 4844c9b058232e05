import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from governance.generations.tasks import dispatch_new_generations


class Command(BaseCommand):
    help = (
        "Send the first step of every accepted generation still in the outbox to the worker, once, or every "
        "--every seconds until stopped. Beat does this every GENERATION_DISPATCH_SECONDS; a dispatcher of its "
        "own starts jobs sooner when beat's worker is busy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="Keep dispatching, this many seconds apart.")

    def handle(self, *args, every: float | None, **options) -> None:
        if every is None:
            self.stdout.write(f"Dispatched {dispatch_new_generations()} generations.")
            return
        while True:
            close_old_connections()
            dispatch_new_generations()
            time.sleep(every)
