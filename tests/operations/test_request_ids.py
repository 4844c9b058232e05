"""A request id on every log line of a request, in the response, on the generation and in the worker."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.utils import timezone

from governance.generations import tasks
from governance.generations.models import Generation
from governance.operations.readiness import WORKER_HEARTBEAT_KEY
from tests.conftest import ROOT
from tests.factories import OLD, revise

pytestmark = pytest.mark.django_db


def test_a_response_carries_a_new_request_id(client):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]

    assert len(first) == 32 and first != second


def test_an_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})

    assert response["X-Request-ID"] == "lb-7f3a.42"


def test_an_incoming_request_id_that_could_forge_a_log_line_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc\nERROR forged line"})

    assert response["X-Request-ID"] != "abc\nERROR forged line" and "\n" not in response["X-Request-ID"]


def test_djangos_own_log_line_for_an_error_answer_carries_the_request_id(client, log_lines):
    cache.delete(WORKER_HEARTBEAT_KEY)
    client.get("/readyz", headers={"X-Request-ID": "probe-1"})  # no worker heartbeat: a 503

    assert [record.request_id for record in log_lines.with_message("Service Unavailable: /readyz")] == ["probe-1"]


def test_the_generation_keeps_the_request_id_and_the_worker_logs_under_it(api, monkeypatch, log_lines):
    sent = []
    monkeypatch.setattr(tasks.start_generations, "apply_async", lambda **message: sent.append(message))

    response = api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"}, headers={"X-Request-ID": "req-42"})
    tasks.dispatch_outbox()
    generation = Generation.objects.get(video_id=response.json()["id"])
    revise(generation.environment, default_model="sora-2-2025-12-08", allowed_snapshots=["sora-2-2025-12-08"])
    tasks.start_generations(*sent[0]["args"])

    assert response["X-Request-ID"] == "req-42"
    assert generation.request_id == "req-42"
    [[[generation_id, _step, request_id]]] = sent[0]["args"]
    assert (generation_id, request_id) == (generation.pk, "req-42")
    assert [record.request_id for record in log_lines.with_message(f"generation {generation.video_id} failed")] == [
        "req-42"
    ]


def test_the_sweep_re_enqueues_a_generation_with_its_request_id(api, monkeypatch, settings):
    sent = []
    monkeypatch.setattr(tasks.start_generations, "apply_async", lambda **message: sent.append(message))
    monkeypatch.setattr(tasks.advance_generation, "apply_async", lambda **message: sent.append(message))
    api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"}, headers={"X-Request-ID": "req-43"})
    tasks.dispatch_outbox()
    Generation.objects.update(next_check_at=timezone.now() - dt.timedelta(seconds=1))  # nobody took the step

    tasks.sweep_stalled_generations()

    first, again = sent
    assert first["args"][0][0][2] == "req-43"
    assert again["kwargs"]["request_id"] == "req-43"


def test_log_format_json_writes_one_json_object_per_line_with_the_request_id():
    script = (
        "import django, logging; django.setup()\n"
        "from governance.infra.request_ids import bound_request_id\n"
        "with bound_request_id('req-json'):\n"
        "    logging.getLogger('governance.example').warning('hello %s', 'there')\n"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "governance.settings"}

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert line["request_id"] == "req-json"
    assert line["level"] == "WARNING" and line["logger"] == "governance.example" and "time" in line
