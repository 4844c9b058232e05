"""A create the provider cannot deduplicate is never sent twice: a lost answer or a crash does not pay twice.

xAI takes no idempotency key, so it stands for every such provider (Gemini, Vertex, Runway, BytePlus,
Azure); OpenAI-shaped upstreams dedupe by Idempotency-Key and are covered by test_worker.py.
"""

import datetime as dt

import httpx
import pytest

from governance.generations import worker
from governance.generations.models import Generation
from governance.policies.services import revise_policy
from tests.factories import SYSTEM, make_api_key, spent_this_month
from tests.generations.conftest import Api
from tests.generations.providers.conftest import api_on
from tests.upstream_transport import use_transport

XAI_KEY = "xai-abcdefghijklmnop1234"


@pytest.fixture
def live_xai(monkeypatch):
    monkeypatch.setenv("XAI_API_KEY", XAI_KEY)


@pytest.fixture
def accepted(db, live_xai) -> Generation:
    api = api_on("xai", "grok-imagine-video")
    response = api.post("videos", {"prompt": "A glowing rocket", "seconds": "5", "size": "1280x720"})
    assert response.status_code == 200, response.content
    return Generation.objects.get(video_id=response.json()["id"])


class XaiStandIn:
    """xAI's create and poll, failing the first create as told; counts the creates it received."""

    def __init__(self, first_create: Exception | None):
        self.first_create, self.creates = first_create, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.creates += 1
            if self.creates == 1 and self.first_create is not None:
                raise self.first_create
            return httpx.Response(200, json={"request_id": f"req-{self.creates}"})
        return httpx.Response(200, json={"status": "pending"})


def step(generation: Generation, stand_in: XaiStandIn) -> Generation:
    with use_transport(httpx.MockTransport(stand_in)):
        worker.advance(generation.pk)
    generation.refresh_from_db()
    return generation


def test_a_create_whose_answer_was_lost_is_not_sent_again(accepted):
    stand_in = XaiStandIn(first_create=httpx.ReadTimeout("no answer"))

    retried = step(accepted, stand_in)
    assert retried.status == "queued" and retried.create_sent_at is not None
    failed = step(retried, stand_in)

    assert stand_in.creates == 1
    assert (failed.status, failed.error_code) == ("failed", "upstream_outcome_unknown")
    assert "does not send it again and pay twice" in failed.error_message


def test_a_create_that_never_reached_the_provider_is_retried_and_made_once(accepted):
    stand_in = XaiStandIn(first_create=httpx.ConnectError("connection refused"))

    step(accepted, stand_in)
    submitted = step(accepted, stand_in)

    assert stand_in.creates == 2
    assert (submitted.status, submitted.upstream_id) == ("queued", "req-2")


def test_a_worker_that_died_after_sending_the_create_does_not_send_it_again(accepted):
    """The crash window: the create went out, the worker was killed before the job's id was saved."""
    accepted.note_create_sent()
    stand_in = XaiStandIn(first_create=None)

    failed = step(accepted, stand_in)

    assert stand_in.creates == 0
    assert (failed.status, failed.error_code) == ("failed", "upstream_outcome_unknown")


def test_a_job_whose_outcome_is_unknown_keeps_its_budget_reserved(accepted):
    """A job the provider may have made may have been charged: its reservation is not given back."""
    environment = accepted.environment
    revise_policy(
        environment=environment, provider=accepted.provider, actor=SYSTEM, reason="budget", monthly_budget=100
    )
    api = Api(make_api_key(environment))
    response = api.post("videos", {"prompt": "A rocket", "seconds": "5", "size": "1280x720"})
    budgeted = Generation.objects.get(video_id=response.json()["id"])
    budgeted.note_create_sent()

    step(budgeted, XaiStandIn(first_create=None))

    assert spent_this_month(environment) == budgeted.estimated_cost > 0


def test_a_job_the_provider_never_finishes_is_given_up_and_cancelled(accepted, settings):
    settings.GENERATION_MAX_UPSTREAM_SECONDS = 60
    stand_in = XaiStandIn(first_create=None)
    submitted = step(accepted, stand_in)
    Generation.objects.filter(pk=submitted.pk).update(started_at=submitted.started_at - dt.timedelta(minutes=2))

    def still_pending(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "pending"})

    with use_transport(httpx.MockTransport(still_pending)):
        worker.advance(submitted.pk)
    submitted.refresh_from_db()

    assert (submitted.status, submitted.error_code) == ("failed", "upstream_timeout")
    assert "had not finished the job after" in submitted.error_message


def test_a_finished_video_the_archive_cannot_copy_is_retried_a_bounded_number_of_times(accepted, monkeypatch):
    """A provider that says done but serves a file we cannot keep does not hold a worker forever."""
    monkeypatch.setattr(worker, "MAX_POLL_ATTEMPTS", 3)

    def done_with_an_empty_file(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"request_id": "req-1"})
        if request.url.path.endswith("/req-1"):
            video = {"url": "https://api.x.ai/files/req-1.mp4", "duration": 5}
            return httpx.Response(200, json={"status": "done", "video": video, "model": "grok-imagine-video"})
        return httpx.Response(200, content=b"not a video")

    with use_transport(httpx.MockTransport(done_with_an_empty_file)):
        steps = 0
        while worker.advance(accepted.pk).countdown is not None:
            steps += 1
            assert steps < 10
    accepted.refresh_from_db()

    assert accepted.status == "failed"
    assert "after 3 attempts" in accepted.error_message
