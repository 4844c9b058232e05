"""POST /v1/videos: decided by the environment's policy, every outcome in the log."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.audit.services import Actor
from governance.catalog.models import Snapshot
from governance.generations.models import Generation
from governance.projects.models import ApiKey
from governance.projects.services import revoke_api_key
from tests.factories import NEW, OLD, make_character, revise, spent_this_month

pytestmark = pytest.mark.django_db

INPUT_REFERENCE = "input_reference"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_it_accepts_a_request_for_the_pinned_snapshot(api, production):
    response = api.post("videos", {"prompt": "a cat naps in the sun", "model": OLD, "seconds": "8"})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "video" and body["status"] == "queued"
    assert body["model"] == OLD and body["seconds"] == "8" and body["size"] == "720x1280"
    assert response["X-Governance-Resolved-Model"] == OLD
    generation = Generation.objects.get(video_id=body["id"])
    assert generation.environment == production
    assert generation.policy_revision == production.policy_revisions.get()
    assert response["X-Governance-Policy-Revision"] == str(generation.policy_revision.number)
    assert generation.prompt_sha256 and generation.estimated_cost == Decimal("0.8")


def test_it_accepts_multipart_as_the_official_sdk_sends_it(api):
    response = api.post("videos", {"prompt": "waves", "model": OLD, "seconds": "4"}, json=False)
    assert response.status_code == 200
    assert response.json()["model"] == OLD


def test_it_refuses_the_alias_in_production_and_records_why(api, production):
    response = api.post("videos", {"prompt": "a cat", "model": "sora-2"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "alias_not_allowed"
    assert response.json()["error"]["param"] == "model"
    assert response["x-should-retry"] == "false"
    refused = Generation.objects.get()
    assert refused.status == "refused" and refused.error_code == "alias_not_allowed"
    assert refused.requested_model == "sora-2" and refused.environment == production


def test_development_resolves_the_alias_to_its_current_snapshot(dev_api):
    response = dev_api.post("videos", {"prompt": "a cat", "model": "sora-2"})
    assert response.status_code == 200
    assert response.json()["model"] == NEW


def test_it_refuses_a_snapshot_the_environment_does_not_allow(api):
    response = api.post("videos", {"prompt": "a cat", "model": NEW})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "model_not_allowed"


def test_it_refuses_an_unknown_model(api):
    response = api.post("videos", {"prompt": "a cat", "model": "dall-e-9"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_it_refuses_seconds_the_snapshot_lacks(api):
    response = api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "25"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "sora-2-2025-10-06 supports seconds 4, 8, 10, 12, 15, 20; got 25.",
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "unsupported_parameter",
    }


def test_it_refuses_a_feature_the_snapshot_lacks(api):
    response = api.post("videos", {"prompt": "a cat", "model": OLD, "characters": ["char_1"]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "characters"


@pytest.mark.parametrize(
    "body, code, param",
    [
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        (b'{"model": "x"}', "missing_required_parameter", "prompt"),
        (b'{"prompt": 42}', "invalid_type", "prompt"),
        (b'{"prompt": "a", "seconds": "eight"}', "invalid_type", "seconds"),
        (b'{"prompt": "a", "seconds": true}', "invalid_type", "seconds"),
        (b'{"prompt": "a", "size": ["720x1280"]}', "invalid_type", "size"),
        (b'{"prompt": "a", "colour": "red"}', "unknown_parameter", "colour"),
        (b'{"prompt": "a", "input_reference": 7}', "invalid_type", "input_reference"),
        (b'{"prompt": "hi \\ud800"}', "invalid_value", "prompt"),
        (b'{"prompt": "hi \\u0000"}', "invalid_value", "prompt"),
        (b'{"prompt": "a", "model": "\\udfff"}', "invalid_value", "model"),
        (b'{"prompt": "a", "seconds": "\xef\xbc\x98"}', "invalid_type", "seconds"),
        (b'{"prompt": "a", "characters": ["\\u0000"]}', "invalid_value", "characters"),
        (b'{"prompt": "a", "storyboard": 5}', "invalid_type", "storyboard"),
        (b'{"prompt": "a", "style": [[[[["deep"]]]]]}', "invalid_value", "style"),
        (b'{"prompt": "a", "style": ' + b"[" * 900 + b"]" * 900 + b"}", "invalid_value", "style"),
        (b'{"prompt": "a", "style": ' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid_json", None),
        (
            b'{"prompt": "a", "input_reference": {"image_url": "file:///etc/passwd"}}',
            "invalid_value",
            "input_reference",
        ),
    ],
)
def test_bad_input_gets_a_clear_400_and_is_recorded(api, body, code, param):
    response = api.client.post(
        "/v1/videos", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["param"] == param
    assert Generation.objects.get().error_code == code


def test_a_huge_prompt_is_refused_and_kept_truncated(api):
    response = api.post("videos", {"prompt": "x" * 40_000, "model": OLD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "prompt_too_long"
    refused = Generation.objects.get()
    assert len(refused.prompt) <= 32_000 and len(refused.prompt_sha256) == 64


def test_a_body_over_the_upload_limit_is_a_413(api):
    response = api.post("videos", {"prompt": "x" * 2_000_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_an_input_reference_image_is_kept_and_needs_the_feature(api):
    image = SimpleUploadedFile("ref.png", PNG, content_type="image/png")
    response = api.post("videos", {"prompt": "a cat", "model": OLD, "input_reference": image}, json=False)
    assert response.status_code == 200
    generation = Generation.objects.get()
    assert generation.input_reference.read() == PNG
    assert generation.parameters["input_reference"]["sha256"] == generation.input_reference_sha256


def test_an_input_reference_is_stored_under_its_hash_whatever_its_name(api):
    image = SimpleUploadedFile("x." + "p" * 150, PNG, content_type="image/png")
    response = api.post("videos", {"prompt": "a cat", "model": OLD, "input_reference": image}, json=False)
    assert response.status_code == 200
    generation = Generation.objects.get()
    assert generation.input_reference.name.endswith(generation.input_reference_sha256 + ".png")


def test_an_image_url_reference_is_kept_whole(api):
    url = "data:image/png;base64," + "A" * 2000
    response = api.post("videos", {"prompt": "a cat", "model": OLD, "input_reference": {"image_url": url}})
    assert response.status_code == 200
    assert Generation.objects.get().parameters["input_reference"]["image_url"] == url


def test_a_remix_of_an_unknown_video_is_a_404_and_recorded(api):
    response = api.post("videos/video_nope/remix", {"prompt": "again"})
    assert response.status_code == 404
    refused = Generation.objects.get()
    assert (refused.operation, refused.error_code, refused.parameters) == (
        "remix",
        "video_not_found",
        {"remix_of": "video_nope"},
    )


def test_a_non_image_input_reference_is_refused(api):
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = api.post("videos", {"prompt": "a cat", "input_reference": upload}, json=False)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input_reference"


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer sgk_not-a-real-key", "Basic abc"])
def test_a_missing_or_wrong_key_is_a_401(client, authorization, production):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post("/v1/videos", {"prompt": "a"}, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert not Generation.objects.exists()


def test_refused_keys_are_audited_once_a_minute_per_client(client, production):
    from governance.audit.models import AuditEvent
    from governance.projects import services

    services._refused_key_events.clear()
    for _ in range(5):
        client.get("/v1/videos", HTTP_AUTHORIZATION="Bearer sgk_abcdefghijklmnop")
    event = AuditEvent.objects.get(action="auth.refused")
    assert event.payload == {
        "client_ip": "127.0.0.1",
        "key_prefix": "sgk_abcdefgh",
        "reason": "unknown or revoked key",
        "refused_since_last_event": 0,
    }


def test_a_revoked_key_is_refused_on_its_next_request(api):
    assert api.post("videos", {"prompt": "a", "model": OLD}).status_code == 200
    revoke_api_key(api_key=ApiKey.objects.get(), actor=Actor.system())
    assert api.post("videos", {"prompt": "a", "model": OLD}).status_code == 401


def test_a_policy_change_applies_to_the_next_request(dev_api, development):
    assert dev_api.post("videos", {"prompt": "a", "model": NEW}).status_code == 200
    revise(development, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse")
    assert dev_api.post("videos", {"prompt": "a", "model": NEW}).json()["error"]["code"] == "model_not_allowed"


def test_budget_is_enforced_per_calendar_month(api, production):
    revise(production, monthly_budget=Decimal("1.00"))
    with time_machine.travel(dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)):
        assert api.post("videos", {"prompt": "a", "model": OLD, "seconds": "8"}).status_code == 200
        response = api.post("videos", {"prompt": "a", "model": OLD, "seconds": "4"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "budget_exceeded"
        assert Generation.objects.filter(status="refused", error_code="budget_exceeded").count() == 1
    with time_machine.travel(dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)):
        assert api.post("videos", {"prompt": "a", "model": OLD, "seconds": "8"}).status_code == 200


def test_a_request_over_budget_is_logged_once_and_never_reaches_the_worker(api, production):
    revise(production, monthly_budget=Decimal("1.00"))
    assert api.post("videos", {"prompt": "a", "model": OLD, "seconds": "8"}).status_code == 200
    response = api.post("videos", {"prompt": "one too many", "model": OLD, "seconds": "4"})
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert [generation.prompt for generation in Generation.objects.awaiting_dispatch()] == ["a"]
    assert Generation.objects.get(prompt="one too many").status == "refused"
    assert Generation.objects.count() == 2
    assert spent_this_month(production) == Decimal("0.80")


def test_a_deprecated_snapshot_answers_with_deprecation_and_sunset(api):
    snapshot = Snapshot.objects.get(provider__slug="simulator", name=OLD)
    snapshot.deprecated_on, snapshot.shutdown_on = dt.date(2026, 1, 1), dt.date(2099, 1, 1)
    snapshot.save()
    response = api.post("videos", {"prompt": "a", "model": OLD})
    assert response.status_code == 200
    assert response["Deprecation"].startswith("@")
    assert response["Sunset"] == "Thu, 01 Jan 2099 00:00:00 GMT"


def test_the_sdks_multipart_form_of_storyboards_and_characters_is_read_as_objects(dev_api, development):
    character = make_character(development)
    form = {
        "prompt": "two shots",
        "model": NEW,
        "storyboard[][prompt]": ["a door opens", "a cat walks in"],
        "storyboard[][seconds]": ["4", "4"],
        "characters[][id]": [character.character_id],
        "input_reference[image_url]": "https://example.com/ref.png",
    }
    response = dev_api.post("videos", form, json=False)
    assert response.status_code == 200, response.json()
    parameters = Generation.objects.get(operation="create").parameters
    assert parameters["storyboard"] == [
        {"prompt": "a door opens", "seconds": "4"},
        {"prompt": "a cat walks in", "seconds": "4"},
    ]
    assert parameters["characters"] == [{"id": character.character_id}]
    assert parameters["input_reference"] == {"image_url": "https://example.com/ref.png"}


def test_a_storyboard_sent_as_a_form_is_still_refused_on_a_snapshot_without_storyboards(api):
    response = api.post("videos", {"prompt": "a", "model": OLD, "storyboard[][prompt]": ["a door"]}, json=False)
    assert response.status_code == 400
    assert response.json()["error"] | {"message": ""} == {
        "code": "unsupported_parameter",
        "param": "storyboard",
        "type": "invalid_request_error",
        "message": "",
    }
