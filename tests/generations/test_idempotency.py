"""Idempotency-Key: a retry is the same generation, never a second one."""

import datetime as dt

import pytest
from django.utils import timezone

from governance.generations.idempotency import expire_idempotency_keys
from governance.generations.models import Generation, IdempotencyRecord
from governance.projects.models import ApiKey
from tests.factories import OLD, make_api_key
from tests.generations.conftest import Api

pytestmark = pytest.mark.django_db


def test_a_retry_returns_the_same_generation(api):
    first = api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "k-1"})
    again = api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Generation.objects.count() == 1


def test_a_retried_refusal_is_the_same_refusal_and_one_row(api):
    first = api.post("videos", {"prompt": "a", "model": "sora-2"}, headers={"Idempotency-Key": "k-2"})
    again = api.post("videos", {"prompt": "a", "model": "sora-2"}, headers={"Idempotency-Key": "k-2"})
    assert first.status_code == again.status_code == 403
    assert first.json() == again.json()
    assert Generation.objects.count() == 1


def test_the_same_key_with_a_different_body_is_a_422(api):
    api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "k-3"})
    response = api.post("videos", {"prompt": "a dog", "model": OLD}, headers={"Idempotency-Key": "k-3"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Generation.objects.count() == 1


def test_a_retry_while_the_first_is_in_flight_is_a_409(api):
    api.post("videos", {"prompt": "warm-up", "model": OLD}, headers={"Idempotency-Key": "other"})
    fingerprint_of_same_body = IdempotencyRecord.objects.get(key="other").request_fingerprint
    IdempotencyRecord.objects.create(
        api_key=ApiKey.objects.get(), key="k-4", request_fingerprint=fingerprint_of_same_body
    )
    response = api.post("videos", {"prompt": "warm-up", "model": OLD}, headers={"Idempotency-Key": "k-4"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_request_in_flight"


def test_an_abandoned_key_is_taken_over(api):
    api.post("videos", {"prompt": "warm-up", "model": OLD}, headers={"Idempotency-Key": "other"})
    fingerprint = IdempotencyRecord.objects.get(key="other").request_fingerprint
    IdempotencyRecord.objects.create(
        api_key=ApiKey.objects.get(),
        key="k-5",
        request_fingerprint=fingerprint,
        created_at=timezone.now() - dt.timedelta(minutes=5),
    )
    response = api.post("videos", {"prompt": "warm-up", "model": OLD}, headers={"Idempotency-Key": "k-5"})
    assert response.status_code == 200
    assert IdempotencyRecord.objects.get(key="k-5").generation.video_id == response.json()["id"]


def test_keys_are_scoped_to_the_api_key(api, production):
    other = Api(make_api_key(production))
    first = api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "shared"})
    second = other.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "shared"})
    assert first.json()["id"] != second.json()["id"]


def test_a_key_is_forgotten_after_a_day_and_its_generation_kept(api, settings):
    first = api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "k-6"})
    tomorrow = timezone.now() + dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, minutes=1)
    assert expire_idempotency_keys(now=tomorrow) == 1

    again = api.post("videos", {"prompt": "a cat", "model": OLD}, headers={"Idempotency-Key": "k-6"})
    assert again.json()["id"] != first.json()["id"]
    assert Generation.objects.count() == 2
