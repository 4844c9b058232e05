"""The worker: re-checks policy, submits once, polls, retries and fails clearly.

The upstream is our simulator, reached in-process through httpx's WSGI transport
(the same client code that talks to a real provider over the network).
"""

import datetime as dt
import logging
import os
import signal
from decimal import Decimal

import httpx
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from governance.generations import tasks, worker
from governance.generations.models import Generation
from governance.generations.tasks import sweep_stalled_generations
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import NEW, OLD, SAMPLE_MP4, revise, spent_this_month
from tests.simulator.helpers import created_job_count
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def simulator_in_process():
    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def accepted(api, clock):
    """A generation the gateway accepted in production, waiting for the worker."""
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=10, failure_rate=0)
    response = api.post("videos", {"prompt": "a lighthouse", "model": OLD, "seconds": "4"})
    return Generation.objects.get(video_id=response.json()["id"])


def reload(generation: Generation) -> Generation:
    return Generation.objects.get(pk=generation.pk)


def test_it_submits_upstream_then_polls_to_completion(accepted, clock):
    countdown = worker.advance(accepted.pk).countdown
    submitted = reload(accepted)
    assert submitted.upstream_id.startswith("video_") and countdown >= 1
    assert submitted.status in ("queued", "in_progress")

    clock.shift(5)
    worker.advance(accepted.pk)
    assert reload(accepted).status == "in_progress" and 0 < reload(accepted).progress < 100

    clock.shift(6)
    assert worker.advance(accepted.pk).countdown is None
    done = reload(accepted)
    assert (done.status, done.progress) == ("completed", 100)
    assert [entry["status"] for entry in done.timeline] == [
        "queued",
        "submitted",
        "in_progress",
        "archived",
        "completed",
    ]


def test_a_repeated_submit_after_a_crash_reuses_the_upstream_job(accepted):
    worker.advance(accepted.pk)
    first_upstream = reload(accepted).upstream_id
    Generation.objects.filter(pk=accepted.pk).update(upstream_id="")  # the worker died before saving the id

    worker.advance(accepted.pk)
    assert reload(accepted).upstream_id == first_upstream
    assert created_job_count() == 1


def test_a_rate_limited_submit_waits_as_the_provider_asks(accepted):
    SimulatorProfile.objects.filter(snapshot=OLD).update(rate_limit_rate=1.0)
    countdown = worker.advance(accepted.pk).countdown
    assert countdown == 1.0
    retrying = reload(accepted)
    assert retrying.upstream_attempts == 1 and retrying.status == "queued"
    assert retrying.timeline[-1]["status"] == "retrying"


def test_a_provider_that_keeps_failing_ends_in_a_clear_failure_and_refunds_the_budget(api, production, clock):
    revise(production, monthly_budget=Decimal("100"))
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=1, error_rate=1.0)
    response = api.post("videos", {"prompt": "a", "model": OLD, "seconds": "8"})
    generation = Generation.objects.get(video_id=response.json()["id"])
    assert spent_this_month(production) == Decimal("0.8")

    while worker.advance(generation.pk).countdown is not None:
        pass
    failed = reload(generation)
    assert failed.status == "failed"
    assert failed.upstream_attempts == worker.MAX_SUBMIT_ATTEMPTS - 1
    assert "after 8 attempts" in failed.error_message
    assert spent_this_month(production) == Decimal("0")
    assert created_job_count() == 0


def test_an_outage_after_the_provider_accepted_keeps_polling_and_never_refunds(api, production, clock):
    revise(production, monthly_budget=Decimal("100"))
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=1, failure_rate=0)
    generation = Generation.objects.get(video_id=api.post("videos", {"prompt": "a", "model": OLD}).json()["id"])
    worker.advance(generation.pk)
    SimulatorProfile.objects.filter(snapshot=OLD).update(error_rate=1.0)

    for _ in range(worker.MAX_SUBMIT_ATTEMPTS + 2):
        assert worker.advance(generation.pk).countdown is not None
    assert reload(generation).status != "failed"

    SimulatorProfile.objects.filter(snapshot=OLD).update(error_rate=0.0)
    clock.shift(2)
    assert worker.advance(generation.pk).countdown is None
    assert reload(generation).status == "completed"
    assert spent_this_month(production) == Decimal("0.4")


def test_a_failure_after_the_provider_accepted_keeps_the_money_spent(api, production, clock):
    revise(production, monthly_budget=Decimal("100"))
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=1, failure_rate=1.0)
    generation = Generation.objects.get(video_id=api.post("videos", {"prompt": "a", "model": OLD}).json()["id"])
    worker.advance(generation.pk)
    clock.shift(2)
    worker.advance(generation.pk)
    assert reload(generation).status == "failed"
    assert spent_this_month(production) == Decimal("0.4")


def test_a_video_deleted_while_running_is_stopped_and_deleted_upstream(
    api, accepted, django_capture_on_commit_callbacks
):
    from governance.celery import app
    from governance.simulator.models import SimulatedVideo

    worker.advance(accepted.pk)
    api.delete(f"videos/{accepted.video_id}")
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.advance_generation(accepted.pk, step=accepted.step_token)
    finally:
        app.conf.task_always_eager = False
    assert reload(accepted).error_code == "deleted"
    assert SimulatedVideo.objects.get(video_id=reload(accepted).upstream_id).deleted_at is not None


def test_the_step_that_stops_a_deleted_video_asks_for_its_upstream_copy_to_be_deleted(api, accepted):
    worker.advance(accepted.pk)
    api.delete(f"videos/{accepted.video_id}")

    assert worker.advance(accepted.pk) == worker.NextStep(countdown=None, delete_upstream=True)


def test_a_generation_whose_provider_changed_meanwhile_is_stopped(accepted):
    from governance.catalog.models import Provider
    from governance.catalog.services import load_pack, read_pack
    from tests.factories import SYSTEM

    load_pack(read_pack("openai-sora-2"), actor=SYSTEM)
    production = accepted.environment
    production.policy_revisions.model.objects.create(
        environment=production,
        number=99,
        provider=Provider.objects.get(slug="openai"),
        default_model=OLD,
        allowed_snapshots=[OLD],
        reason="switch provider",
    )
    worker.advance(accepted.pk)
    assert reload(accepted).error_code == "snapshot_no_longer_allowed"
    assert created_job_count() == 0


def test_a_generation_whose_snapshot_was_disallowed_meanwhile_is_stopped_before_the_provider(
    dev_api, development, clock
):
    generation_id = dev_api.post("videos", {"prompt": "a", "model": NEW}).json()["id"]
    revise(development, default_model=OLD, allowed_snapshots=[OLD], reason="roll back to the old snapshot")

    generation = Generation.objects.get(video_id=generation_id)
    assert worker.advance(generation.pk).countdown is None
    stopped = reload(generation)
    assert (stopped.status, stopped.error_code) == ("failed", "snapshot_no_longer_allowed")
    assert created_job_count() == 0


def test_a_snapshot_that_shut_down_meanwhile_is_stopped(accepted, clock):
    snapshot = accepted.provider.snapshots.get(name=OLD)
    snapshot.shutdown_on = dt.date(2026, 11, 26)
    snapshot.save()
    clock.move_to(dt.datetime(2026, 11, 26, 0, 1, tzinfo=dt.UTC))
    worker.advance(accepted.pk)
    assert reload(accepted).error_code == "snapshot_shut_down"


def test_a_failed_upstream_job_is_recorded_with_the_providers_reason(accepted, clock):
    SimulatorProfile.objects.filter(snapshot=OLD).update(failure_rate=1.0)
    worker.advance(accepted.pk)
    clock.shift(11)
    worker.advance(accepted.pk)
    failed = reload(accepted)
    assert (failed.status, failed.error_code) == ("failed", "generation_failed")


def test_a_video_deleted_before_it_finished_stops(api, accepted):
    api.delete(f"videos/{accepted.video_id}")
    assert worker.advance(accepted.pk).countdown is None
    assert reload(accepted).error_code == "deleted"


def test_an_accepted_generation_waits_in_the_outbox_until_the_dispatcher_sends_it(accepted, clock, settings):
    from governance.celery import app

    SimulatorProfile.objects.filter(snapshot=OLD).update(latency_seconds=0)
    assert list(Generation.objects.awaiting_dispatch()) == [accepted]
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)
    assert sweep_stalled_generations() == 0  # the outbox is the dispatcher's, however long it waited
    app.conf.task_always_eager = True
    try:
        assert tasks.dispatch_outbox() == 1
    finally:
        app.conf.task_always_eager = False
    assert reload(accepted).status == "completed"
    assert not Generation.objects.awaiting_dispatch().exists()


def test_a_generation_whose_step_could_not_be_published_stays_in_the_outbox(accepted, monkeypatch):
    monkeypatch.setattr(tasks.start_generations, "apply_async", broker_away)
    assert tasks.dispatch_outbox() == 0
    assert list(Generation.objects.awaiting_dispatch()) == [accepted]


def test_the_sweep_sends_again_a_dispatched_step_nobody_took(accepted, clock, settings):
    from governance.celery import app

    SimulatorProfile.objects.filter(snapshot=OLD).update(latency_seconds=0)
    assert tasks.dispatch_outbox() == 1  # its message is lost: no worker reads this broker
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)
    app.conf.task_always_eager = True
    try:
        assert sweep_stalled_generations() == 1
    finally:
        app.conf.task_always_eager = False
    assert reload(accepted).status == "completed"


def test_the_dispatcher_sends_first_steps_ten_to_a_message_yet_a_small_dispatch_to_eight_worker_processes():
    def sizes(waiting: int) -> list[int]:
        steps = [(pk, f"token-{pk}", "") for pk in range(waiting)]
        messages = tasks.first_step_messages(steps)
        assert [step for message in messages for step in message] == steps  # each once, in order
        return [len(message) for message in messages]

    assert sizes(3) == [1, 1, 1]
    assert sizes(8) == [1] * 8
    assert sizes(20) == [3] * 6 + [2]
    assert sizes(80) == [10] * 8
    assert sizes(500) == [10] * 50


def test_one_message_starts_several_generations_and_one_that_fails_does_not_stop_the_others(
    api, clock, monkeypatch, caplog
):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=10, failure_rate=0)
    for n in (1, 2, 3):
        api.post("videos", {"prompt": f"a lighthouse {n}", "model": OLD, "seconds": "4"})
    first, broken, third = Generation.objects.order_by("pk")
    message = [[g.pk, g.step_token, g.request_id] for g in (first, broken, third)]
    real_advance = worker.advance

    def advance(generation_id):
        if generation_id == broken.pk:
            raise RuntimeError("the database went away mid-step")
        return real_advance(generation_id)

    monkeypatch.setattr(worker, "advance", advance)
    with caplog.at_level(logging.ERROR):
        tasks.start_generations(message)

    assert [bool(reload(g).upstream_id) for g in (first, broken, third)] == [True, False, True]
    assert f"generation {broken.pk}: its first step failed; the sweep sends it again" in caplog.text

    tasks.start_generations(message)  # the broker redelivers the message: nothing is taken twice
    assert created_job_count() == 2


def broker_away(*args, **kwargs):
    raise ConnectionError("the broker is away")


def test_backoff_grows_and_is_jittered():
    bounds = [(0.5, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (30, 60), (30, 60)]
    for attempt, (low, high) in enumerate(bounds, start=1):
        assert low <= worker.backoff(attempt) <= high


def test_a_duplicate_of_the_message_taking_a_step_claims_nothing(accepted):
    assert worker.claim_step(accepted.pk, accepted.step_token) is not None
    assert worker.claim_step(accepted.pk, accepted.step_token) is None  # the broker redelivered it


def test_the_sweep_sends_a_waiting_step_again_under_its_own_token(accepted, clock, settings):
    still_in_a_long_queue = accepted.step_token
    tasks.dispatch_outbox()
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)
    assert sweep_stalled_generations() == 1
    assert reload(accepted).step_token == still_in_a_long_queue

    assert worker.claim_step(accepted.pk, still_in_a_long_queue) is not None  # the first copy to arrive
    assert worker.claim_step(accepted.pk, still_in_a_long_queue) is None  # the sweep's copy, later


def test_a_step_is_never_overtaken_by_the_sweep_however_long_the_queue(accepted, clock, settings):
    queued = accepted.step_token
    tasks.dispatch_outbox()
    for _ in range(5):  # the queue is slower than the sweep's waits: it sends the step again and again
        clock.shift(20 * settings.GENERATION_STALL_SECONDS)
        assert sweep_stalled_generations() == 1

    assert worker.claim_step(accepted.pk, queued) is not None


def test_the_sweep_waits_twice_as_long_each_time_it_sends_the_same_step_again(accepted, clock, settings):
    stall = settings.GENERATION_STALL_SECONDS
    tasks.dispatch_outbox()
    clock.shift(stall + 1)
    for waited in (stall, 2 * stall, 4 * stall):
        assert sweep_stalled_generations() == 1
        clock.shift(waited - 1)
        assert sweep_stalled_generations() == 0  # one copy per wait, not one per stall time
        clock.shift(2)


def test_taking_the_step_resets_the_sweeps_wait(accepted, clock, settings):
    tasks.dispatch_outbox()
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)
    sweep_stalled_generations()
    worker.claim_step(accepted.pk, accepted.step_token)
    assert reload(accepted).sweeps == 0


def test_a_message_of_a_step_whose_lease_ran_out_claims_nothing_once_the_sweep_restarted_it(accepted, clock, settings):
    tasks.dispatch_outbox()
    worker.claim_step(accepted.pk, accepted.step_token)  # its worker dies mid-step
    clock.shift(settings.GENERATION_STEP_LEASE_SECONDS + 1)
    assert sweep_stalled_generations() == 1

    assert worker.claim_step(accepted.pk, accepted.step_token) is None  # the broker redelivers the old message
    assert worker.claim_step(accepted.pk, reload(accepted).step_token) is not None


def test_the_sweep_leaves_a_running_step_alone_until_its_lease_ends(accepted, clock, settings):
    from governance.celery import app

    tasks.dispatch_outbox()
    running = worker.claim_step(accepted.pk, accepted.step_token)
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)
    assert sweep_stalled_generations() == 0

    clock.shift(settings.GENERATION_STEP_LEASE_SECONDS)
    SimulatorProfile.objects.filter(snapshot=OLD).update(latency_seconds=0)
    app.conf.task_always_eager = True
    try:
        assert sweep_stalled_generations() == 1
    finally:
        app.conf.task_always_eager = False
    assert reload(accepted).status == "completed"
    assert worker.hand_over_step(accepted.pk, running) is None  # the step that outlived its lease ends its chain
    assert created_job_count() == 1


def test_a_remix_whose_source_left_the_log_fails_clearly(api, accepted, clock):
    from governance.generations.retention import apply_retention

    while worker.advance(accepted.pk).countdown is not None:
        clock.shift(11)
    remix_id = api.post(f"videos/{accepted.video_id}/remix", {"prompt": "at night"}).json()["id"]
    clock.shift(3600)
    assert apply_retention(days=0) == 1  # the source, finished, goes; the queued remix stays

    remix = Generation.objects.get(video_id=remix_id)
    assert worker.advance(remix.pk).countdown is None
    assert (reload(remix).status, reload(remix).error_code) == ("failed", "source_unavailable")


def test_a_status_the_worker_does_not_know_is_retried_then_failed(accepted):
    def provider(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "video_up", "object": "video", "status": "paused"})

    with use_transport(httpx.MockTransport(provider)):
        while worker.advance(accepted.pk).countdown is not None:
            pass
    failed = reload(accepted)
    assert failed.status == "failed"
    assert "unknown status 'paused'" in failed.error_message


def test_a_providers_error_text_is_kept_without_anything_shaped_like_a_key(accepted):
    def provider(request: httpx.Request) -> httpx.Response:
        message = "Incorrect API key provided: sk-proj-abc1********************xyz9. You can find your key at ..."
        return httpx.Response(401, json={"error": {"message": message, "code": "invalid_api_key"}})

    with use_transport(httpx.MockTransport(provider)):
        assert worker.advance(accepted.pk).countdown is None
    failed = reload(accepted)
    assert failed.error_code == "invalid_api_key"
    assert "Incorrect API key provided: [key redacted]" in failed.error_message
    assert "sk-proj" not in failed.error_message


PROVIDER_KEY = "vendor-live-7f3a9c2e5b1d4f6a8c0e2b4d"  # a reseller's key, not shaped like OpenAI's


@pytest.fixture
def provider_with_a_key(accepted, monkeypatch):
    accepted.provider.api_key_env_var = "RESELLER_KEY"
    accepted.provider.save(update_fields=["api_key_env_var"])
    monkeypatch.setenv("RESELLER_KEY", PROVIDER_KEY)
    return accepted


def echoing(status: int, job_status: str = ""):
    """A provider that puts the credentials it was sent into its error text."""

    def provider(request: httpx.Request) -> httpx.Response:
        sent = request.headers["Authorization"]
        if job_status:
            job = {"id": "video_up", "object": "video", "status": "failed", "error": {"message": f"denied: {sent}"}}
            return httpx.Response(200, json=job)
        return httpx.Response(status, json={"error": {"message": f"key {sent} is not allowed", "code": "denied"}})

    return httpx.MockTransport(provider)


@pytest.mark.parametrize(("status", "job_status"), [(403, ""), (200, "failed")])
def test_the_providers_own_key_is_never_kept_whatever_its_shape(provider_with_a_key, status, job_status, caplog):
    with use_transport(echoing(status, job_status)):
        while worker.advance(provider_with_a_key.pk).countdown is not None:
            pass

    failed = reload(provider_with_a_key)
    assert failed.status == "failed"
    assert "[key redacted]" in failed.error_message
    kept = f"{failed.error_message} {failed.timeline} {caplog.text}"
    assert PROVIDER_KEY not in kept


def failing_with_code(code):
    job = {"id": "video_up", "object": "video", "status": "failed", "error": {"code": code, "message": "no"}}
    return httpx.MockTransport(lambda request: httpx.Response(200, json=job))


@pytest.mark.parametrize(("code", "kept"), [("quota_" + "x" * 100, ("quota_" + "x" * 100)[:64]), (503, "503")])
def test_a_providers_odd_error_code_is_kept_as_text_that_fits(accepted, code, kept):
    with use_transport(failing_with_code(code)):
        while worker.advance(accepted.pk).countdown is not None:
            pass

    failed = reload(accepted)
    assert failed.status == "failed" and failed.error_code == kept
    assert failed.timeline[-1]["note"] == kept  # the detail page's timeline shows the same code as the log


def test_a_character_made_after_a_failed_attempt_counts_no_upstream_errors_in_a_row(dev_api):
    clip = SimpleUploadedFile("mona.mp4", SAMPLE_MP4, content_type="video/mp4")
    dev_api.post("videos/characters", {"name": "Mona", "video": clip}, json=False)
    character = Generation.objects.get(operation="character")
    answers = iter(
        [httpx.Response(503, json={"error": {"message": "busy"}}), httpx.Response(200, json={"id": "char_up"})]
    )

    with use_transport(httpx.MockTransport(lambda request: next(answers))):
        assert worker.advance(character.pk).countdown is not None
        assert worker.advance(character.pk).countdown is None

    made = reload(character)
    assert (made.status, made.upstream_id, made.upstream_attempts) == ("completed", "char_up", 0)
    assert made.simulated  # the built-in simulator's provider made it, and the row still says so


def test_no_provider_link_or_request_url_is_logged(accepted, caplog):
    """A provider's signed result link is a bearer secret: httpx's request lines stay out of the logs."""
    with (
        caplog.at_level(logging.DEBUG),
        use_transport(simulator_transport()),
    ):
        worker.advance(accepted.pk)

    assert not [record for record in caplog.records if record.name.startswith(("httpx", "httpcore"))]


def test_the_dispatcher_stopped_mid_dispatch_commits_its_batch_and_leaves_the_rest(api, accepted, monkeypatch):
    """SIGTERM (a deploy) or Ctrl-C while a batch is being published: that batch is marked sent, and the next
    batch is left in the outbox for the next dispatcher, so no step is sent twice."""
    waiting = api.post("videos", {"prompt": "a second lighthouse", "model": OLD, "seconds": "4"}).json()["id"]
    publish, batches = tasks._publish_first_steps, []

    def published_then_stopped(steps):
        if batches:
            raise AssertionError("the dispatcher went on after SIGTERM")
        batches.append(len(steps))
        sent = publish(steps)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives between the publish and the commit that marks it sent
        return sent

    def test_runners_own(signum, frame):
        raise AssertionError("the dispatcher did not handle SIGTERM")

    monkeypatch.setattr(tasks, "DISPATCH_BATCH", 1)
    monkeypatch.setattr(tasks, "_publish_first_steps", published_then_stopped)
    # The test's transaction holds the connection that the command would close between dispatches.
    monkeypatch.setattr(
        "governance.generations.management.commands.dispatch_generations.close_old_connections", lambda: None
    )
    before = signal.signal(signal.SIGTERM, test_runners_own)
    try:
        call_command("dispatch_generations", every=0.01)
        assert signal.getsignal(signal.SIGTERM) is test_runners_own  # given back once it stopped
    finally:
        signal.signal(signal.SIGTERM, before)
    assert batches == [1]
    assert [generation.video_id for generation in Generation.objects.awaiting_dispatch()] == [waiting]
