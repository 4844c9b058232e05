"""The fault suite's audit writer appends each event once, whichever way the database went away."""

import argparse

import pytest
from django.db import OperationalError

from bench.audit_writer import ACTION, Writer
from governance.audit.models import AuditEvent
from governance.audit.verification import verify_chain


class FlakyWriter(Writer):
    """A writer whose first append meets a lost connection, before or after its COMMIT reached the server."""

    def __init__(self, *, lost: str) -> None:
        super().__init__(argparse.Namespace(writer=0, writers=1, events=1, rate=1000.0, run_id="test", deadline=30.0))
        self.lost = lost

    def append_once(self, event_id: str, number: int) -> None:
        lost, self.lost = self.lost, ""
        if lost == "before commit":
            raise OperationalError("server closed the connection unexpectedly")
        super().append_once(event_id, number)
        if lost == "after commit":
            raise OperationalError("server closed the connection unexpectedly")


def events_named(event_id: str) -> int:
    return AuditEvent.objects.filter(action=ACTION, payload__event_id=event_id).count()


@pytest.mark.django_db(transaction=True)
def test_an_append_whose_commit_went_through_unseen_is_not_appended_again():
    writer = FlakyWriter(lost="after commit")

    assert writer.append("test/0/0", 0)

    assert events_named("test/0/0") == 1
    assert (writer.tally["attempts"], writer.tally["failed"], writer.tally["found_committed"]) == (1, 1, 1)
    assert verify_chain().intact


@pytest.mark.django_db(transaction=True)
def test_an_append_lost_before_its_commit_is_tried_again():
    writer = FlakyWriter(lost="before commit")

    assert writer.append("test/0/0", 0)

    assert events_named("test/0/0") == 1
    assert (writer.tally["attempts"], writer.tally["failed"], writer.tally["found_committed"]) == (2, 1, 0)
    assert verify_chain().intact
