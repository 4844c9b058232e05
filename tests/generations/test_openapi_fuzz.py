"""Property-based fuzzing of the gateway against its OpenAPI document.

Whatever arrives, with a real key or none: never a 500, never an HTML page or a
traceback, every error in OpenAI's shape, every response as documented, and
requests that break the document refused. The suite runs a fixed, derandomized
set of examples; `FUZZ_EXAMPLES=500 pytest tests/generations/test_openapi_fuzz.py`
explores further with fresh random examples.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
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

EXPLORING = bool(os.environ.get("FUZZ_EXAMPLES"))
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", 25))

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
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not EXPLORING,
    database=None,
)


@pytest.fixture
def keep_test_connection(db):
    """Through WSGI each request would close the test's database connection; Django's test client avoids it so."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(keep_test_connection) -> str:
    environment = make_environment(default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow")
    return make_api_key(environment)


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_gateway_with_a_key(case, fuzz_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=checks_for(case))


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_gateway_without_a_key(case, keep_test_connection):
    response = case.call_and_validate(checks=checks_for(case))
    if case.method.upper() == case.operation.method.upper() and not not_governed(case):
        assert response.status_code == 401 or response.json()["error"]["code"] == "unknown_url", response.text


def not_governed(case) -> bool:
    """Edits, extensions and characters answer `endpoint_not_governed` whatever the method or key."""
    return case.operation.definition.raw["operationId"].endswith("NotGoverned")


def checks_for(case) -> list:
    return [check for check in CHECKS if not (check is unsupported_method and not_governed(case))]
