"""/healthz says the process is up; /readyz checks the database, the broker and a worker heartbeat."""

import time

import pytest
from django.core.cache import cache

from governance.celery import app
from governance.operations.readiness import WORKER_HEARTBEAT_KEY, record_worker_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_heartbeat_from_earlier_tests():
    cache.delete(WORKER_HEARTBEAT_KEY)
    yield
    cache.delete(WORKER_HEARTBEAT_KEY)


def broker_unreachable(monkeypatch) -> None:
    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_transport", None)  # the URL's own transport, not the configured one


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_monitor_may_ask_healthz_with_head(client):
    assert client.head("/healthz").status_code == 200


def test_readyz_is_ready_when_database_broker_and_a_worker_answer(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    record_worker_heartbeat("worker@test")

    response = client.get("/readyz", headers={"Authorization": "Bearer scrape-token"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "worker": True,
    }
    assert "worker@test" in body["checks"]["worker"]["detail"]


def test_readyz_is_unavailable_until_a_worker_was_seen(client, settings):
    settings.METRICS_TOKEN = "scrape-token"

    response = client.get("/readyz", headers={"Authorization": "Bearer scrape-token"})

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {"ok": False, "detail": "no worker heartbeat recorded"}


def test_readyz_is_unavailable_when_the_last_heartbeat_is_too_old(client, settings):
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 60
    cache.set(WORKER_HEARTBEAT_KEY, {"worker": "worker@test", "at": time.time() - 61})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_readyz_is_unavailable_when_the_broker_cannot_be_reached(client, monkeypatch):
    record_worker_heartbeat("worker@test")
    broker_unreachable(monkeypatch)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["worker"]["ok"] is True


@pytest.mark.parametrize("token", ["", "scrape-token"], ids=["no METRICS_TOKEN set", "METRICS_TOKEN set"])
def test_readyz_tells_an_unauthenticated_caller_only_which_checks_fail(client, settings, monkeypatch, caplog, token):
    settings.METRICS_TOKEN = token
    broker_unreachable(monkeypatch)

    response = client.get("/readyz", headers={"Authorization": "Bearer wrong-token"})

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": {"ok": True}, "broker": {"ok": False}, "worker": {"ok": False}},
    }
    assert "readiness check broker failing: OperationalError" in caplog.text  # the server log still says why
    assert "readiness check worker failing: no worker heartbeat recorded" in caplog.text


def test_readyz_gives_the_details_to_a_caller_with_the_metrics_token(client, settings, monkeypatch):
    settings.METRICS_TOKEN = "scrape-token"
    broker_unreachable(monkeypatch)

    response = client.get("/readyz", headers={"Authorization": "Bearer scrape-token"})

    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False and "OperationalError" in checks["broker"]["detail"]
    assert checks["worker"] == {"ok": False, "detail": "no worker heartbeat recorded"}


def test_a_running_worker_records_its_heartbeat(celery_worker_process, client):
    """The real worker process of the live tests records a heartbeat from its main process."""
    deadline = time.monotonic() + 20
    while cache.get(WORKER_HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.2)

    assert cache.get(WORKER_HEARTBEAT_KEY)["worker"].startswith("celery@")
