"""One writer of the fault suite's `audit` scenario (started by bench/faults.py, several at once).

    python bench/audit_writer.py --writer 3 --writers 8 --events 50 --rate 40 --run-id ID --report FILE

Each writer is its own process with its own database connection. It sets Django up, connects,
prints `ready` and waits for a line `go <unix time>` on stdin, so that every writer starts
together. It then appends `--events` audit events through `record_event()`, each in its own
transaction as a governance action does, paced so that all writers together append `--rate`
events a second (a writer that fell behind catches up at full speed).

Each event carries a unique `event_id` (`<run id>/<writer>/<index>`) in its payload. An append
that fails because the database went away (OperationalError, InterfaceError) is handled as a
careful client would: close the connection, back off, reconnect. Its outcome is unknown if the
connection died while COMMIT was in flight, so before trying again the writer asks the chain
whether that `event_id` is already there: if it is, the append did commit and is not repeated;
if not, it is tried again. The lookup runs on a new connection after the old session has ended
(the server closed it, or restarted), so the old transaction can no longer commit behind it.

The report (JSON, written to `--report` at the end): attempts, failed attempts, failed attempts
found committed, the event ids this writer knows to be in the chain, and those it gave up on.
"""

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTION = "faults.audit_appended"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def describe(error: Exception) -> str:
    """The error's class and the server's reason, without the address it failed to connect to."""
    reason = re.sub(r"^connection failed: .*? failed: (FATAL: )?", "", " ".join(str(error).split()))
    return f"{type(error).__name__}: {reason[:100]}"


class Writer:
    """Appends one writer's events and keeps its tally."""

    def __init__(self, args: argparse.Namespace) -> None:
        from governance.audit.services import Actor

        self.args = args
        self.actor = Actor.system(f"fault suite writer {args.writer}")
        self.tally: Counter = Counter()
        self.errors: Counter = Counter()
        self.committed: list[str] = []
        self.gave_up: list[str] = []

    def run(self, go_at: float) -> None:
        args = self.args
        for number in range(args.events):
            due = go_at + (number * args.writers + args.writer) / args.rate
            time.sleep(max(0.0, due - time.time()))
            event_id = f"{args.run_id}/{args.writer}/{number}"
            if self.append(event_id, number):
                self.committed.append(event_id)
            else:
                self.gave_up.append(event_id)

    def append(self, event_id: str, number: int) -> bool:
        """True once the event is in the chain exactly once; False if the database stayed away too long."""
        from django.db import InterfaceError, OperationalError, connection

        give_up_at = time.monotonic() + self.args.deadline
        outcome_unknown = False
        failures = 0
        while time.monotonic() < give_up_at:
            try:
                if outcome_unknown:
                    if self.in_chain(event_id):
                        self.tally["found_committed"] += 1
                        return True
                    outcome_unknown = False
                self.tally["attempts"] += 1
                self.append_once(event_id, number)
                return True
            except (OperationalError, InterfaceError) as error:
                if not outcome_unknown:
                    self.tally["failed"] += 1
                outcome_unknown = True
                failures += 1
                self.errors[describe(error)] += 1
                connection.close()
                time.sleep(min(1.0, 0.05 * failures) * random.uniform(0.5, 1.0))
        return False

    def append_once(self, event_id: str, number: int) -> None:
        """One append in its own transaction, as a governance action makes it."""
        from django.db import transaction

        from governance.audit.services import record_event

        with transaction.atomic():
            record_event(
                action=ACTION, actor=self.actor, payload={"event_id": event_id, "writer": self.args.writer, "n": number}
            )

    @staticmethod
    def in_chain(event_id: str) -> bool:
        from governance.audit.models import AuditEvent

        return AuditEvent.objects.filter(action=ACTION, payload__event_id=event_id).exists()

    def report(self) -> dict:
        return {
            "writer": self.args.writer,
            "attempts": self.tally["attempts"],
            "failed": self.tally["failed"],
            "found_committed": self.tally["found_committed"],
            "committed": self.committed,
            "gave_up": self.gave_up,
            "errors": dict(self.errors.most_common(5)),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writer", type=int, required=True, help="This writer's number, from 0.")
    parser.add_argument("--writers", type=int, required=True, help="How many writers there are in all.")
    parser.add_argument("--events", type=int, required=True, help="Events this writer appends.")
    parser.add_argument("--rate", type=float, required=True, help="Appends per second, all writers together.")
    parser.add_argument("--run-id", required=True, help="Prefix of every event_id, unique to the run.")
    parser.add_argument("--report", type=Path, required=True, help="Where to write the JSON report.")
    parser.add_argument("--deadline", type=float, default=120.0, help="Seconds one event is retried.")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    writer = Writer(args)
    connection.ensure_connection()
    print("ready", flush=True)
    command = sys.stdin.readline().split()
    if command[:1] != ["go"]:
        return 2
    writer.run(float(command[1]))
    connection.close()
    args.report.write_text(json.dumps(writer.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
