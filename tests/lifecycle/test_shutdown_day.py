"""Shutdown day: nothing runs on a dead snapshot, at submission or in the worker; deprecated ones say so."""

import datetime as dt

import pytest
import time_machine

from governance.catalog.models import Snapshot
from governance.generations import worker
from governance.generations.models import Generation
from tests.factories import NEW, OLD, make_api_key, make_environment, make_project
from tests.generations.conftest import Api

SHUTDOWN = dt.date(2027, 6, 1)


def at(moment: dt.datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def api(db) -> Api:
    environment = make_environment(make_project("shop"), "production", default_model=OLD, allowed_snapshots=[OLD])
    Snapshot.objects.filter(provider__slug="simulator", name=OLD).update(
        deprecated_on=dt.date(2027, 3, 1),
        shutdown_on=SHUTDOWN,
        replacement=Snapshot.objects.get(provider__slug="simulator", name=NEW),
    )
    return Api(make_api_key(environment))


def test_a_deprecated_snapshot_answers_with_deprecation_sunset_and_its_successor(api):
    with at(dt.datetime(2027, 4, 1, tzinfo=dt.UTC)):
        response = api.post("videos", {"prompt": "a lighthouse"})
        polled = api.get(f"videos/{response.json()['id']}")

    assert response.status_code == 200
    for answer in (response, polled):
        assert answer["Deprecation"] == f"@{int(dt.datetime(2027, 3, 1, tzinfo=dt.UTC).timestamp())}"
        assert answer["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
        assert answer["Link"] == f'</v1/models/{NEW}>; rel="successor-version"'


def test_an_active_snapshot_has_no_deprecation_headers(api):
    with at(dt.datetime(2027, 2, 1, tzinfo=dt.UTC)):
        response = api.post("videos", {"prompt": "a lighthouse"})
    assert response.status_code == 200
    assert "Deprecation" not in response and "Sunset" not in response


def test_after_the_shutdown_date_the_gateway_refuses_with_the_date_and_the_replacement(api):
    with at(dt.datetime(2027, 6, 1, 0, 0, 1, tzinfo=dt.UTC)):
        response = api.post("videos", {"prompt": "a lighthouse", "model": OLD})

    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "snapshot_shut_down" and error["param"] == "model"
    assert "2027-06-01" in error["message"] and NEW in error["message"]
    assert response["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response["Link"] == f'</v1/models/{NEW}>; rel="successor-version"'
    refused = Generation.objects.get()
    assert (refused.status, refused.error_code) == ("refused", "snapshot_shut_down")
    assert "2027-06-01" in refused.error_message  # the log says why


def test_the_default_model_is_refused_too_once_it_shut_down(api):
    with at(dt.datetime(2027, 7, 1, tzinfo=dt.UTC)):
        response = api.post("videos", {"prompt": "a lighthouse"})
    assert response.json()["error"]["code"] == "snapshot_shut_down"
    assert response["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response["Link"] == f'</v1/models/{NEW}>; rel="successor-version"'


def test_the_worker_refuses_a_generation_accepted_before_the_shutdown(api):
    with at(dt.datetime(2027, 5, 31, 23, 59, tzinfo=dt.UTC)):
        video_id = api.post("videos", {"prompt": "a lighthouse"}).json()["id"]
    generation = Generation.objects.get(video_id=video_id)

    with at(dt.datetime(2027, 6, 1, 0, 1, tzinfo=dt.UTC)):
        assert worker.advance(generation.pk).countdown is None
        polled = api.get(f"videos/{video_id}")

    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == ("failed", "snapshot_shut_down")
    assert "2027-06-01" in generation.error_message and NEW in generation.error_message
    assert not generation.upstream_id  # the provider was never called
    assert polled.json()["error"]["code"] == "snapshot_shut_down"
