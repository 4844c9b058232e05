"""Property-based fuzzing of the gateway against its OpenAPI document.

Whatever arrives, with a real key or none: never a 500, never an HTML page or a
traceback, every error in OpenAI's shape, every response as documented, and
requests that break the document refused. The suite runs a fixed, derandomized
set of examples; `FUZZ_EXAMPLES=500 pytest tests/generations/test_openapi_fuzz.py`
explores further with fresh random examples.
"""

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from governance.wsgi import application
from tests.factories import NEW, OLD, make_api_key, make_environment
from tests.openapi_fuzzing import EXPLORING, examples_per_operation, fuzz_settings

EXAMPLES_PER_OPERATION = examples_per_operation(25)

schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", application)
# The key is sent by the test itself, with and without; schemathesis varies everything else.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    with_security_parameters=False,
    deterministic=not EXPLORING,
)


@schema.hook
def filter_query(ctx, query) -> bool:
    """Unknown query parameters are ignored, as OpenAI's API ignores them; only documented ones are judged."""
    documented = {parameter.name for parameter in ctx.operation.query}
    return not query or set(query) <= documented


@schemathesis.check
def errors_in_openai_shape(ctx, response, case) -> bool | None:
    """Every 4xx and 5xx is JSON {"error": {"message", "type", "param", "code"}}, never a page or a traceback."""
    text = response.text
    assert "Traceback" not in text and "<html" not in text.lower(), (
        f"{response.status_code} looks like a page: {text[:200]}"
    )
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and error["code"]
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    errors_in_openai_shape,
    unsupported_method,
    allow_header_conformance,
    negative_data_rejection,
]
FUZZ_SETTINGS = fuzz_settings(EXAMPLES_PER_OPERATION)


@pytest.fixture
def fuzz_key(keep_test_connection) -> str:
    environment = make_environment(default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow")
    return make_api_key(environment)


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_gateway_with_a_key(case, fuzz_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_gateway_without_a_key(case, keep_test_connection):
    response = case.call_and_validate(checks=CHECKS)
    if case.method.upper() == case.operation.method.upper() and not names_another_endpoint(case):
        assert response.status_code == 401 or response.json()["error"]["code"] == "unknown_url", response.text


def names_another_endpoint(case) -> bool:
    """`/v1/videos/characters` is both a video id to `GET /v1/videos/{video_id}` and the characters endpoint."""
    return case.path_parameters and set(case.path_parameters.values()) & {"characters", "edits", "extensions"}
