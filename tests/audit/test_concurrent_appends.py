"""Many writers at once leave one gap-free, valid chain (on PostgreSQL and on SQLite)."""

import threading

import pytest
from django.db import connection, transaction

from governance.audit.models import AuditEvent
from governance.audit.services import Actor, record_event
from governance.audit.verification import verify_chain

WRITERS, EVENTS_EACH = 8, 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_a_gap_free_valid_chain():
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for number in range(EVENTS_EACH):
                with transaction.atomic():
                    record_event(
                        action="test.concurrent", actor=Actor.system(f"writer {writer}"), payload={"n": number}
                    )
        except BaseException as error:  # surfaced below; a thread cannot fail the test itself
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, WRITERS * EVENTS_EACH + 1))
    assert verify_chain().intact
