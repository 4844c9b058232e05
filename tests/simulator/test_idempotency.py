import pytest

from tests.simulator.helpers import NEW, OLD, assert_openai_error, create, created_job_count

pytestmark = pytest.mark.django_db

KEY = {"Idempotency-Key": "generation-42"}


def test_the_same_key_returns_the_same_video_and_creates_one_job(client):
    first = create(client, headers=KEY, model=OLD)
    second = create(client, headers=KEY, model=OLD)

    assert first.status_code == second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert created_job_count() == 1


def test_without_a_key_every_request_is_a_new_job(client):
    create(client)
    create(client)

    assert created_job_count() == 2
    assert created_job_count(snapshot=NEW) == 2
    assert created_job_count(snapshot=OLD) == 0


def test_a_key_reused_with_a_different_request_is_refused(client):
    create(client, headers=KEY, prompt="A cat")

    assert_openai_error(create(client, headers=KEY, prompt="A dog"), 422, "idempotency_key_reused", "Idempotency-Key")
    assert created_job_count() == 1


def test_an_overlong_key_is_refused(client):
    response = create(client, headers={"Idempotency-Key": "k" * 256})

    assert_openai_error(response, 400, "invalid_value", "Idempotency-Key")
