"""JSON with numbers no JSON column can hold (NaN, Infinity, endless integers) is a logged 400 on every endpoint."""

import pytest

from governance.generations.models import Generation
from governance.generations.submissions import parse_submission
from governance.policies.engine import Operation
from tests.factories import OLD

pytestmark = pytest.mark.django_db

LONG_INTEGER = b"9" * 4301  # beyond Python's limit for turning digits into an int

UNREPRESENTABLE = {
    "an integer of 4301 digits": b'{"prompt": "a", "seconds": ' + LONG_INTEGER + b"}",
    "one inside style": b'{"prompt": "a", "style": {"strength": ' + LONG_INTEGER + b"}}",
    "NaN inside style": b'{"prompt": "a", "style": {"strength": NaN}}',
    "Infinity inside a storyboard": b'{"prompt": "a", "storyboard": [{"prompt": "b", "seconds": Infinity}]}',
    "-Infinity among characters": b'{"prompt": "a", "characters": [-Infinity]}',
    "a float too large for a float": b'{"prompt": "a", "style": {"strength": 1e999}}',
}


def post_json(api, path: str, body: bytes):
    return api.client.post(f"/v1/{path}", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}")


def assert_refused_as_invalid_json(response):
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["type"], error["param"]) == ("invalid_json", "invalid_request_error", None)
    assert "JSON" in error["message"] and "set_int_max_str_digits" not in error["message"]


@pytest.mark.parametrize("body", UNREPRESENTABLE.values(), ids=UNREPRESENTABLE.keys())
def test_a_create_with_a_number_json_cannot_hold_is_a_400_and_logged_as_refused(api, body):
    response = post_json(api, "videos", body)

    assert_refused_as_invalid_json(response)
    refused = Generation.objects.get()
    assert (refused.status, refused.error_code, refused.prompt) == ("refused", "invalid_json", "")


@pytest.mark.parametrize("path", ["videos/{video}/remix", "videos/edits", "videos/extensions", "videos/characters"])
@pytest.mark.parametrize("value", [b"NaN", b"Infinity", LONG_INTEGER], ids=["NaN", "Infinity", "4301 digits"])
def test_every_other_endpoint_that_reads_json_refuses_it_too(api, path, value):
    video = api.post("videos", {"prompt": "a", "model": OLD}).json()["id"]
    Generation.objects.filter(video_id=video).update(status=Generation.Status.COMPLETED)
    body = b'{"prompt": "again", "video": {"id": "' + video.encode() + b'"}, "seconds": ' + value + b"}"

    response = post_json(api, path.format(video=video), body)

    assert_refused_as_invalid_json(response)
    assert Generation.objects.exclude(video_id=video).get().error_code == "invalid_json"


def test_large_numbers_json_can_hold_are_kept_as_sent(dev_api):
    strength = int("9" * 4300)
    response = post_json(dev_api, "videos", b'{"prompt": "a", "style": {"strength": ' + b"9" * 4300 + b"}}")

    assert response.status_code == 200
    assert Generation.objects.get().parameters["style"] == {"strength": strength}


def test_fields_given_as_values_cannot_carry_nan_into_the_log_either():
    """The playground and comparison runs hand over fields already read; the same numbers are refused there."""
    submission, _ = parse_submission(Operation.CREATE, body={"prompt": "a", "style": {"strength": float("nan")}})

    assert (submission.invalid.code, submission.invalid.param) == ("invalid_value", "style")
