"""/metrics: requests, refusals by code, queue depth, upstream latency and errors, generations by status."""

import httpx
import pytest

from governance.generations import worker
from governance.generations.models import Generation
from tests.factories import OLD
from tests.operations.conftest import metric_value
from tests.upstream_transport import use_transport

pytestmark = pytest.mark.django_db


def test_requests_are_counted_by_route_method_and_status(client):
    before = metric_value(client, "governance_http_requests_total", route="healthz", method="GET", status="200")

    client.get("/healthz")
    client.get("/healthz")

    after = metric_value(client, "governance_http_requests_total", route="healthz", method="GET", status="200")
    assert after - before == 2


def test_refusals_are_counted_by_code(client, api):
    before = metric_value(client, "governance_api_refusals_total", code="alias_not_allowed")
    missing_key = metric_value(client, "governance_api_refusals_total", code="invalid_api_key")

    api.post("videos", {"prompt": "a cat", "model": "sora-2"})
    client.get("/v1/models")

    assert metric_value(client, "governance_api_refusals_total", code="alias_not_allowed") - before == 1
    assert metric_value(client, "governance_api_refusals_total", code="invalid_api_key") - missing_key == 1


def test_generations_are_counted_by_status_and_the_queue_is_read_from_the_database(client, api):
    refused = metric_value(client, "governance_generations_total", status="refused")
    queued = metric_value(client, "governance_generations_total", status="queued")

    api.post("videos", {"prompt": "a cat", "model": "sora-2"})
    api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"})
    api.post("videos", {"prompt": "a dog", "model": OLD, "seconds": "4"})

    assert metric_value(client, "governance_generations_total", status="refused") - refused == 1
    assert metric_value(client, "governance_generations_total", status="queued") - queued == 2
    assert metric_value(client, "governance_generations_unfinished", status="queued") == 2
    assert metric_value(client, "governance_generations_unfinished", status="in_progress") == 0
    assert metric_value(client, "governance_generations_oldest_unfinished_seconds") >= 0


def test_upstream_latency_and_errors_are_labelled_by_provider_and_snapshot(client, api):
    video_id = api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"}).json()["id"]
    generation = Generation.objects.get(video_id=video_id)
    labels = {"provider": "simulator", "snapshot": OLD, "operation": "create"}
    calls = metric_value(client, "governance_upstream_request_seconds_count", **labels)
    errors = metric_value(client, "governance_upstream_errors_total", status="503", **labels)
    unavailable = httpx.MockTransport(lambda request: httpx.Response(503, json={"error": {"message": "busy"}}))

    with use_transport(unavailable):
        worker.advance(generation.pk)

    assert metric_value(client, "governance_upstream_request_seconds_count", **labels) - calls == 1
    assert metric_value(client, "governance_upstream_errors_total", status="503", **labels) - errors == 1


def test_metrics_need_the_bearer_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-token-for-tests"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "governance_generations_unfinished" in response.content.decode()
