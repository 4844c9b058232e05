"""Property-based fuzzing of the management API against its own OpenAPI document, as the gateway is fuzzed.

Whatever arrives, with an admin's token or none: never a 500, never a page or a traceback, every
error in the one documented shape, every answer as documented, and requests that break the
document refused. Path parameters are steered to rows that exist (the project, its plan and its
steps) most of the time, so the views and the services behind them run, not just the 404s. The
suite runs a fixed, derandomized set of examples; `FUZZ_EXAMPLES=500` explores further at random.
"""

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from governance.projects.models import Role
from governance.snapshot_migrations import services
from governance.wsgi import application
from tests.factories import NEW, OLD, make_environment, make_member, make_project
from tests.management_api.conftest import token_of
from tests.openapi_fuzzing import EXPLORING, examples_per_operation, fuzz_settings

EXAMPLES_PER_OPERATION = examples_per_operation(20)
WORLD: dict = {}

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    with_security_parameters=False,
    deterministic=not EXPLORING,
)


@schema.hook
def filter_query(ctx, query) -> bool:
    """Unknown query parameters are ignored by the API; only documented ones are judged."""
    documented = {parameter.name for parameter in ctx.operation.query}
    return not query or set(query) <= documented


@schema.hook
def map_path_parameters(ctx, path_parameters: dict) -> dict:
    """Most cases name the project, plan and step that exist; the rest keep what was generated."""
    if not WORLD or not path_parameters or sum(map(ord, repr(sorted(path_parameters.items(), key=str)))) % 5 == 0:
        return path_parameters
    steered = dict(path_parameters)
    for name in ("project", "plan_id", "step_id", "number"):
        if name in steered:
            steered[name] = WORLD[name]
    return steered


@schemathesis.check
def errors_in_one_shape(ctx, response, case) -> bool | None:
    """Every 4xx and 5xx is JSON {"error": {"code", "message", "field"}}, never a page or a traceback."""
    text = response.text if "octet-stream" not in response.headers.get("content-type", [""])[0] else ""
    assert "Traceback" not in text and "<html" not in text.lower(), f"{response.status_code}: {text[:200]}"
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert {"code", "message", "field"} <= set(error) <= {"code", "message", "field", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and error["code"]
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    errors_in_one_shape,
    negative_data_rejection,
]
FUZZ_SETTINGS = fuzz_settings(EXAMPLES_PER_OPERATION)


@pytest.fixture
def admin_token(keep_test_connection) -> str:
    """A project with every environment, a plan in review with evidence, and its admin's token."""
    project = make_project("shop")
    make_environment(project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW])
    make_environment(project, "testing", default_model=NEW, allowed_snapshots=[NEW])
    make_environment(project, "staging", default_model=OLD, allowed_snapshots=[OLD, NEW])
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    admin, author = make_member(project, Role.ADMIN), make_member(project, Role.APPROVER)
    plan = services.create_plan(environment=production, to_snapshot=NEW, reason="Fuzzed", author=author)
    step = plan.steps.first()
    services.update_evidence(plan=plan, step=step, user=author, evidence="Report", links="https://ci.example.com/1")
    services.submit_for_review(plan=plan, user=author)
    WORLD.update(project="shop", plan_id=plan.pk, step_id=step.pk, number=1)
    yield token_of(admin)
    WORLD.clear()


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_management_api_with_a_token(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_management_api_without_a_token(case, keep_test_connection):
    response = case.call_and_validate(checks=CHECKS)
    if case.operation.path != "/api/v1/openapi.json" and case.method.upper() == case.operation.method.upper():
        assert response.status_code in (401, 404), response.text  # 404: a path that reaches no route
