"""Who sends new generations' first steps: a dispatcher process ten times a second, or beat where none runs."""

import datetime as dt
import os
import signal
import time
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from governance.generations import tasks
from governance.generations.models import Generation, OutboxEntry
from tests.factories import OLD

pytestmark = pytest.mark.django_db

COMMAND = "governance.generations.management.commands.dispatch_generations"


@pytest.fixture(autouse=True)
def own_running_note(monkeypatch):
    """A dispatcher that other tests run (the live worker's) must not make beat stand down in these."""
    monkeypatch.setattr(tasks, "DISPATCHER_RUNNING_KEY", f"test-dispatcher:{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def keep_the_test_connection(monkeypatch):
    """The test's transaction holds the connection that the command would close between dispatches."""
    monkeypatch.setattr(f"{COMMAND}.close_old_connections", lambda: None)


def submit(api) -> str:
    return api.post("videos", {"prompt": "a lighthouse", "model": OLD, "seconds": "4"}).json()["id"]


def waiting(video_id: str) -> bool:
    return Generation.objects.awaiting_dispatch().filter(video_id=video_id).exists()


def test_beat_leaves_the_outbox_to_a_running_dispatcher_process_and_takes_over_once_it_stops(api, monkeypatch):
    first = submit(api)
    beat_sent_meanwhile = []

    def dispatch_then_stop(stopping):
        beat_sent_meanwhile.append(tasks.dispatch_new_generations())
        sent = tasks.dispatch_outbox(stopping)
        os.kill(os.getpid(), signal.SIGTERM)
        return sent

    monkeypatch.setattr(f"{COMMAND}.dispatch_outbox", dispatch_then_stop)
    call_command("dispatch_generations", every=0.01)

    assert beat_sent_meanwhile == [0]
    assert not waiting(first)  # the dispatcher process sent it
    second = submit(api)
    assert tasks.dispatch_new_generations() == 1  # the dispatcher said it stopped: beat sends at once
    assert not waiting(second)


def test_beat_takes_over_from_a_dispatcher_process_that_fell_silent(api, monkeypatch):
    """A dispatcher killed without a word (kill -9, a lost host) stops saying it runs; beat dispatches again."""
    monkeypatch.setattr(tasks, "DISPATCHER_SILENT_SECONDS", 1)
    tasks.note_dispatcher_running()
    video = submit(api)

    assert tasks.dispatch_new_generations() == 0
    assert waiting(video)
    time.sleep(1.2)
    assert tasks.dispatch_new_generations() == 1
    assert not waiting(video)


def test_beat_sends_what_a_running_dispatcher_process_left_waiting_too_long(api):
    """A dispatcher that runs but cannot send (a refused query, a broker out of its reach) does not hold beat off."""
    cache.set(tasks.DISPATCHER_RUNNING_KEY, True, timeout=3600)  # it keeps saying it runs
    video = submit(api)
    assert tasks.dispatch_new_generations() == 0

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=tasks.DISPATCHER_SILENT_SECONDS + 1)):
        assert tasks.dispatch_new_generations() == 1
    assert not waiting(video)


def test_beat_dispatches_when_the_cache_cannot_say_whether_a_dispatcher_runs(api, monkeypatch):
    class CacheAway:
        def get(self, key):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks, "cache", CacheAway())
    video = submit(api)

    assert tasks.dispatch_new_generations() == 1
    assert not waiting(video)


def test_a_dispatcher_run_once_by_an_operator_sends_even_while_a_dispatcher_process_runs(api):
    tasks.note_dispatcher_running()
    video = submit(api)

    call_command("dispatch_generations")

    assert not waiting(video)


def test_a_dispatcher_process_outlives_a_database_that_went_away(api, monkeypatch, caplog):
    video = submit(api)
    calls = []

    def away_then_back(stopping):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("the server closed the connection unexpectedly")
        sent = tasks.dispatch_outbox(stopping)
        os.kill(os.getpid(), signal.SIGTERM)
        return sent

    monkeypatch.setattr(f"{COMMAND}.dispatch_outbox", away_then_back)
    monkeypatch.setattr(f"{COMMAND}.DATABASE_RETRY_SECONDS", 0.01)
    call_command("dispatch_generations", every=0.01)

    assert len(calls) == 2
    assert not waiting(video)
    assert "could not read the outbox; the next dispatch retries" in caplog.text


def test_a_step_sent_late_gets_a_stall_time_from_then_before_the_sweep_sends_it_again(api, settings):
    """A broker or dispatcher away for minutes: the backlog is sent once when it comes back, not twice."""
    accepted_at = timezone.now()
    with time_machine.travel(accepted_at, tick=False) as clock:
        submit(api)
        clock.shift(settings.GENERATION_STALL_SECONDS * 3)
        assert tasks.dispatch_outbox() == 1

        assert tasks.sweep_stalled_generations() == 0
        clock.shift(settings.GENERATION_STALL_SECONDS + 1)
        assert tasks.sweep_stalled_generations() == 1  # nobody took it: its message was lost


def test_the_sweep_sends_a_generation_accepted_by_the_release_before_the_outbox_table(api, settings):
    """During a deploy a web process of the previous release commits a row with no entry and no next check."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        video = submit(api)
        OutboxEntry.objects.filter(generation__video_id=video).delete()
        Generation.objects.filter(video_id=video).update(next_check_at=None)

        assert tasks.sweep_stalled_generations() == 0
        clock.shift(settings.GENERATION_STALL_SECONDS + 1)
        assert tasks.sweep_stalled_generations() == 1
