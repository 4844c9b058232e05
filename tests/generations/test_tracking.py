"""The tracker: when a job in flight is polled, batch polls through the real adapter, and what gets written.

The provider is the simulator's BytePlus ModelArk dialect, reached through the same httpx client code
as a real call (in-process transport, counted here).
"""

import datetime as dt
import math
import time

import httpx
import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from governance.generations import tasks, tracking, worker
from governance.generations.models import TRACKED_STEP, Generation
from governance.generations.providers.base import MediaLink, UpstreamJob
from governance.generations.tracking import PollSchedule
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import make_api_key, make_environment_on
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

SNAPSHOT = "seedance-1-5-pro-251215"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
UNREACHABLE_CACHE = {
    "default": {"BACKEND": "governance.infra.cache_backends.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


class Counting(httpx.BaseTransport):
    """The simulator in-process, counting the requests the gateway sends it."""

    def __init__(self):
        self.inner, self.requests = simulator_transport(), []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def upstream():
    simulator.rolls.seed(7)
    transport = Counting()
    with use_transport(transport):
        yield transport


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def tracker_running(clock):
    """The tracker has just ticked (its heartbeat is fresh)."""
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)
    yield
    cache.delete(tracking.HEARTBEAT_KEY)


@pytest.fixture
def api(db) -> Api:
    environment = make_environment_on("byteplus", SNAPSHOT)
    SimulatorProfile.objects.create(snapshot=SNAPSHOT, latency_seconds=100, failure_rate=0)
    return Api(make_api_key(environment))


def tracked(api: Api, count: int) -> list[Generation]:
    """`count` generations submitted upstream by the step chain and handed to the tracker."""
    generations = []
    for index in range(count):
        video_id = api.post("videos", {"prompt": f"a lighthouse {index}", "model": SNAPSHOT, "seconds": "5"}).json()
        generation = Generation.objects.get(video_id=video_id["id"])
        tasks.dispatch_outbox()
        running = worker.claim_step(generation.pk, generation.step_token)
        assert worker.advance(generation.pk).track
        assert worker.hand_to_tracker(generation.pk, running)
        generations.append(Generation.objects.get(pk=generation.pk))
    return generations


def updates(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("UPDATE")]


# ---------------------------------------------------------------- the schedule


def test_polls_start_near_the_expected_duration_then_back_off_by_age():
    schedule = PollSchedule(first=60, every=4, share=0.1)
    assert schedule.polls_by(59.9) == 0
    assert schedule.polls_by(60) == 1
    assert schedule.polls_by(3600) < 45  # about log(age): an hour-long job is polled a few dozen times
    short = PollSchedule(first=4, every=4, share=0.1)
    assert [short.polls_by(age) for age in (4, 8, 12, 40)] == [1, 2, 3, 10]  # every 4 s while that is < 10 % of age


@pytest.mark.parametrize("first", [0, 4, 30, 75, 200])
def test_a_job_finishing_at_any_age_is_polled_within_max_every_or_share_of_its_age(first):
    schedule = PollSchedule(first=first, every=4, share=0.1)
    for finish in [first + 0.01 + step * 1.37 for step in range(1500)]:
        wait = 0.0
        while not schedule.due(finish + wait - 0.25, finish + wait):  # ticks of a quarter second
            wait += 0.25
        assert wait <= max(4, 0.1 * finish) + 0.25, finish


def test_due_windows_that_tile_time_poll_each_scheduled_age_once():
    schedule = PollSchedule(first=10, every=4, share=0.1)
    ticks = [tick * 1.0 for tick in range(0, 1000)]
    polls = sum(schedule.due(previous, now) for previous, now in zip(ticks, ticks[1:], strict=False))
    assert polls == schedule.polls_by(999)


@pytest.mark.parametrize(
    "first, every, share", [(0, 4, 0.1), (4, 4, 0.1), (75, 4, 0.1), (200, 4, 0.1), (3.5, 14, 0.28)]
)
def test_the_poll_ages_are_where_the_schedule_counts_each_poll(first, every, share):
    schedule = PollSchedule(first=first, every=every, share=share)
    for age in [0.013 + step * 0.731 for step in range(15_000)]:
        assert sum(1 for _ in schedule.poll_ages(age)) == schedule.polls_by(age), age


def test_the_first_poll_comes_before_the_snapshots_fastest_recent_job_finished(api, upstream, clock, settings):
    settings.GENERATION_POLL_FIRST_SHARE = 0.9
    assert tracking.schedule_for(tracking.expected_seconds(SNAPSHOT)).first == settings.GENERATION_POLL_MIN_SECONDS
    tracking._expected.clear()
    for generation in tracked(api, 10):
        seen = generation.started_at + dt.timedelta(seconds=100 + generation.pk)
        timeline = [*generation.timeline, {"status": tracking.FINISHED_UPSTREAM, "at": seen.isoformat()}]
        archived_late = seen + dt.timedelta(seconds=300)  # a slow archive does not count
        Generation.objects.filter(pk=generation.pk).update(
            status="completed", completed_at=archived_late, timeline=timeline
        )
    first = tracking.schedule_for(tracking.expected_seconds(SNAPSHOT)).first
    assert math.isclose(first, 0.9 * (100 + min(Generation.objects.values_list("pk", flat=True))))
    tracking._expected.clear()


# ---------------------------------------------------------------- the tracker's tick and batches


def test_a_tick_sends_only_the_jobs_due_in_one_message_per_batch(api, upstream, clock, settings):
    settings.GENERATION_POLL_BATCH = 2
    generations = tracked(api, 3)
    cache.set(tracking.HEARTBEAT_KEY, time.time() - 1, timeout=None)
    assert tracking.due_batches() == []  # nothing is due before the first poll time

    clock.shift(settings.GENERATION_POLL_MIN_SECONDS)
    batches = tracking.due_batches()
    provider = generations[0].provider_id
    assert {provider_id for provider_id, _ in batches} == {provider}
    assert sorted(len(ids) for _, ids in batches) == [1, 2]
    assert sorted(pk for _, ids in batches for pk in ids) == sorted(g.pk for g in generations)
    assert tracking.due_batches() == []  # the next tick's window starts where this one ended


@pytest.mark.parametrize("first_share", [0, 0.9])
def test_a_tick_picks_exactly_the_jobs_whose_schedule_has_a_poll_in_its_window(
    api, upstream, clock, settings, first_share
):
    settings.GENERATION_POLL_FIRST_SHARE = first_share  # by the snapshot's history (none yet here), or not
    generations = tracked(api, 40)
    for index, generation in enumerate(generations):  # ages from a few seconds to most of an hour
        generation.started_at = START - dt.timedelta(seconds=2.5 + index**2.2)
        Generation.objects.filter(pk=generation.pk).update(started_at=generation.started_at)
    schedule = tracking.schedule_for(tracking.expected_seconds(SNAPSHOT) if first_share else 0.0)
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)  # a tick ran: each next one covers one second
    picked = []
    for _ in range(30):
        window_start = time.time()
        clock.shift(1)
        expected = {
            g.pk
            for g in generations
            if schedule.due(window_start - g.started_at.timestamp(), time.time() - g.started_at.timestamp())
        }
        assert {pk for _, ids in tracking.due_batches() for pk in ids} == expected
        picked.append(len(expected))
    assert 0 < sum(picked) and max(picked) < len(generations)


def test_a_job_running_longer_than_any_may_is_due_at_once_for_the_step_chain_to_end_it(api, upstream, clock, settings):
    old, young = tracked(api, 2)
    too_long = dt.timedelta(seconds=settings.GENERATION_MAX_UPSTREAM_SECONDS + 1)
    Generation.objects.filter(pk=old.pk).update(started_at=START - too_long)
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)
    clock.shift(0.5)  # no poll of either schedule falls in this window

    assert [ids for _, ids in tracking.due_batches()] == [[old.pk]]
    assert tracking.poll_batch(old.provider_id, [old.pk]).handed_over[0][0] == old.pk


def test_ticks_a_busy_worker_dropped_cost_no_poll(api, upstream, clock, settings):
    """Beat's ticks expire, so a busy worker never runs a backlog of late ones; the next tick that runs covers
    the window since the last one that ran, so every poll the dropped ticks would have sent is sent."""
    expires = settings.CELERY_BEAT_SCHEDULE["track-generations"]["options"]["expires"]
    assert settings.GENERATION_POLL_MIN_SECONDS <= expires <= tracking.MAX_CATCH_UP_SECONDS
    generations = tracked(api, 3)
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)  # a tick ran

    clock.shift(expires)  # every tick sent since waited in the queue until it expired
    batches = tracking.due_batches()

    assert sorted(pk for _, ids in batches for pk in ids) == sorted(g.pk for g in generations)


def test_a_batch_is_polled_in_one_call_to_the_providers_task_list(api, upstream, clock):
    generations = tracked(api, 3)
    upstream.requests.clear()
    clock.shift(20)

    with CaptureQueriesContext(connection) as queries:
        outcome = tracking.poll_batch(generations[0].provider_id, [g.pk for g in generations])
    assert outcome.polled == 3
    reads = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT")]
    assert len([read for read in reads if 'FROM "generations_generation"' in read]) == 1  # no row read again
    (request,) = upstream.requests
    assert request.url.path.endswith("/api/v3/contents/generations/tasks")
    assert sorted(request.url.params.get_list("filter.task_ids")) == sorted(g.upstream_id for g in generations)


def test_a_batch_polls_only_its_jobs_the_tracker_still_holds(api, upstream, clock):
    generations = tracked(api, 3)
    taken_back = generations[1]  # the sweep gave it to a step chain after the tick sent the batch
    Generation.objects.filter(pk=taken_back.pk).update(step_token="a-step-chains-token")
    upstream.requests.clear()
    clock.shift(20)

    outcome = tracking.poll_batch(generations[0].provider_id, [g.pk for g in generations])
    assert outcome.polled == 2
    (request,) = upstream.requests
    assert sorted(request.url.params.get_list("filter.task_ids")) == sorted(
        g.upstream_id for g in generations if g != taken_back
    )
    assert tracking.poll_batch(generations[0].provider_id + 1, [g.pk for g in generations]).polled == 0


def test_only_a_status_change_is_written_never_a_polls_progress(api, upstream, clock):
    generations = tracked(api, 3)
    ids = [g.pk for g in generations]
    clock.shift(20)  # the jobs have started upstream: one write each
    with CaptureQueriesContext(connection) as queries:
        assert tracking.poll_batch(generations[0].provider_id, ids).changed == 3
    assert len(updates(queries)) == 3
    assert {g.status for g in Generation.objects.filter(pk__in=ids)} == {"in_progress"}

    clock.shift(30)  # still running, further along: nothing to write
    with CaptureQueriesContext(connection) as queries:
        assert tracking.poll_batch(generations[0].provider_id, ids).polled == 3
    assert updates(queries) == []


def test_a_finished_job_goes_back_to_the_step_chain_once_and_completes(api, upstream, clock):
    (generation,) = tracked(api, 1)
    clock.shift(101)
    first = tracking.poll_batch(generation.provider_id, [generation.pk])
    again = tracking.poll_batch(generation.provider_id, [generation.pk])  # a duplicate message, or the next tick
    assert len(first.handed_over) == 1 and again.handed_over == []

    (generation_id, step, _) = first.handed_over[0]
    assert worker.claim_step(generation_id, step) is not None
    assert worker.advance(generation_id).countdown is None
    assert Generation.objects.get(pk=generation_id).status == "completed"


def test_the_step_archives_a_finished_job_from_the_trackers_answer_without_asking_the_provider_again(
    api, upstream, clock
):
    generations = tracked(api, 2)
    clock.shift(101)
    outcome = tracking.poll_batch(generations[0].provider_id, [g.pk for g in generations])
    upstream.requests.clear()

    for generation_id, step, _ in outcome.handed_over:
        assert worker.claim_step(generation_id, step) is not None
        assert worker.advance(generation_id).countdown is None
    assert {g.status for g in Generation.objects.filter(pk__in=[g.pk for g in generations])} == {"completed"}
    asked = [request.url.path for request in upstream.requests if "/contents/generations/tasks" in request.url.path]
    assert asked == []  # only the files were fetched
    assert len(upstream.requests) == 2  # one video each; the thumbnails were made from them


def test_the_trackers_answer_is_taken_once_so_a_retried_step_reads_the_job_again(api, upstream, clock):
    (generation,) = tracked(api, 1)
    clock.shift(101)
    tracking.poll_batch(generation.provider_id, [generation.pk])
    generation.refresh_from_db()

    kept = tracking.take_finished_job(generation)
    assert kept is not None and kept.status == "completed" and kept.video.url
    assert tracking.take_finished_job(generation) is None  # taken once: a retried step reads the job again


def test_a_step_whose_kept_link_fails_asks_the_provider_for_a_fresh_one_and_completes(api, upstream, clock):
    (generation,) = tracked(api, 1)
    clock.shift(101)
    ((generation_id, step, _),) = tracking.poll_batch(generation.provider_id, [generation.pk]).handed_over
    key = tracking.FINISHED_JOB_KEY.format(generation.pk)
    kept = cache.get(key)
    kept["video"]["url"] += "-expired"  # as a link past its lifetime: the provider refuses it
    cache.set(key, kept)
    upstream.requests.clear()

    assert worker.claim_step(generation_id, step) is not None
    assert worker.advance(generation_id).countdown is None
    assert Generation.objects.get(pk=generation_id).status == "completed"
    asked = [request.url.path for request in upstream.requests]
    assert asked[0].endswith("-expired") and asked[1].endswith(f"/tasks/{generation.upstream_id}")


def test_with_the_cache_away_a_finished_job_is_still_handed_over_and_completed_by_asking_again(api, upstream, clock):
    (generation,) = tracked(api, 1)
    clock.shift(101)
    with override_settings(CACHES=UNREACHABLE_CACHE):
        ((generation_id, step, _),) = tracking.poll_batch(generation.provider_id, [generation.pk]).handed_over
        upstream.requests.clear()
        assert worker.claim_step(generation_id, step) is not None
        assert worker.advance(generation_id).countdown is None
    assert Generation.objects.get(pk=generation_id).status == "completed"
    assert upstream.requests[0].url.path.endswith(f"/tasks/{generation.upstream_id}")


def test_a_finished_job_whose_links_carry_a_credential_is_not_kept(api, upstream, clock):
    (generation,) = tracked(api, 1)
    keyed = MediaLink(url="https://files.example/v", headers={"x-goog-api-key": "a-providers-key"})
    inline = MediaLink(data=b"video", content_type="video/mp4")

    for link in (keyed, inline):
        unkept = UpstreamJob(generation.upstream_id, "completed", video=link)
        tracking.leave_finished_jobs({generation.pk: unkept})
        assert cache.get(tracking.FINISHED_JOB_KEY.format(generation.pk)) is None
        assert tracking.take_finished_job(generation) is None


def test_a_job_the_provider_no_longer_knows_goes_to_the_step_chain(api, upstream, clock):
    (generation,) = tracked(api, 1)
    simulator.delete_video(generation.upstream_id)
    outcome = tracking.poll_batch(generation.provider_id, [generation.pk])
    assert [pk for pk, _, _ in outcome.handed_over] == [generation.pk]


def test_a_tracked_job_its_client_deletes_is_stopped_at_once_not_at_its_next_poll(
    api, upstream, clock, django_capture_on_commit_callbacks
):
    from governance.celery import app
    from governance.simulator.models import SimulatedVideo

    (generation,) = tracked(api, 1)
    clock.shift(60)  # its next poll is seconds away
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert api.delete(f"videos/{generation.video_id}").status_code == 200
    finally:
        app.conf.task_always_eager = False

    stopped = Generation.objects.get(pk=generation.pk)
    assert stopped.status == "failed" and stopped.error_code == Generation.DELETED_BY_CLIENT
    assert SimulatedVideo.objects.get(video_id=generation.upstream_id).deleted_at is not None  # cancelled upstream
    assert tracking.due_batches() == []


def test_a_step_hands_its_job_to_a_running_tracker_and_chains_without_one(api, upstream, clock, settings):
    from governance.celery import app

    video_id = api.post("videos", {"prompt": "a lighthouse", "model": SNAPSHOT, "seconds": "5"}).json()["id"]
    generation = Generation.objects.get(video_id=video_id)
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)
    app.conf.task_always_eager = True
    try:
        tasks.advance_generation(generation.pk, step=generation.step_token)
    finally:
        app.conf.task_always_eager = False
        cache.delete(tracking.HEARTBEAT_KEY)
    handed = Generation.objects.get(pk=generation.pk)
    assert handed.step_token == TRACKED_STEP and handed.upstream_id
    assert handed.next_check_at > handed.started_at + dt.timedelta(seconds=settings.GENERATION_MAX_UPSTREAM_SECONDS)


# ---------------------------------------------------------------- the sweep


def test_the_sweep_leaves_tracked_jobs_alone_while_the_tracker_runs(api, upstream, tracker_running, clock, settings):
    generations = tracked(api, 2)
    clock.shift(10 * settings.GENERATION_STALL_SECONDS)
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)
    assert tasks.sweep_stalled_generations() == 0
    assert {g.step_token for g in Generation.objects.filter(pk__in=[g.pk for g in generations])} == {TRACKED_STEP}


def test_the_sweep_restarts_tracked_jobs_once_nobody_tracks_them(api, upstream, tracker_running, clock, settings):
    generations = tracked(api, 2)
    clock.shift(settings.GENERATION_STALL_SECONDS + 1)  # the tracker's last tick is a stall time old
    assert tasks.sweep_stalled_generations() == 2
    restarted = Generation.objects.filter(pk__in=[g.pk for g in generations])
    assert TRACKED_STEP not in {g.step_token for g in restarted}


# ---------------------------------------------------------------- callbacks


def test_a_providers_callback_makes_the_tracker_poll_the_job_and_it_completes(
    api, upstream, clock, client, settings, django_capture_on_commit_callbacks
):
    from governance.celery import app
    from governance.generations.providers.byteplus import callback_url

    settings.GENERATION_CALLBACK_URL = "https://gateway.example.com"
    settings.SIMULATOR_CALLBACKS = False  # the simulator's own posting is tested with its dialect
    (generation,) = tracked(api, 1)
    clock.shift(101)
    path = callback_url(generation).removeprefix(settings.GENERATION_CALLBACK_URL)
    app.conf.task_always_eager = True
    try:
        response = client.post(path, {"id": "forged", "status": "succeeded"}, content_type="application/json")
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200
    assert Generation.objects.get(pk=generation.pk).status == "completed"


def test_a_callback_with_a_bad_token_is_refused_and_polls_nothing(api, upstream, clock, client):
    (generation,) = tracked(api, 1)
    upstream.requests.clear()
    forged = tracking.callback_token(generation.pk)[:-2] + "xx"
    assert client.post(f"/callbacks/byteplus/{forged}").status_code == 404
    assert client.post(f"/callbacks/byteplus/{generation.pk}").status_code == 404
    assert upstream.requests == []


def test_a_replayed_callback_past_the_limit_is_refused_and_polls_nothing(api, upstream, clock, client, settings):
    from governance.celery import app

    settings.GENERATION_CALLBACKS_PER_MINUTE = 3
    (generation,) = tracked(api, 1)  # still running upstream: every callback let in polls it
    path = f"/callbacks/byteplus/{tracking.callback_token(generation.pk)}"
    upstream.requests.clear()
    app.conf.task_always_eager = True
    try:
        answers = [client.post(path) for _ in range(5)]
        polls = len(upstream.requests)
        clock.shift(60)
        next_minute = client.post(path)
    finally:
        app.conf.task_always_eager = False

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert polls == 3
    assert next_minute.status_code == 200
