"""Every URL pattern the project defines has an explicit permission rule, and every role meets it.

The walk covers every pattern of the root URLconf, recursively (the admin's, the
gateway's, the simulator's when it is enabled). A pattern without a rule in RULES
fails the test, so a new endpoint cannot ship without saying who may use it.
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from governance.operations.readiness import record_worker_heartbeat
from governance.projects.models import AUDITOR_GROUP, Role
from tests.conftest import ROOT
from tests.factories import OLD, make_api_key, make_environment, make_member, make_project, make_user
from tests.generations.conftest import Api

ANONYMOUS, NO_MEMBERSHIP, AUDITOR, STAFF = "anonymous", "no membership", "auditor", "staff superuser"
PROJECT_ROLES = [Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN]
ROLES = [ANONYMOUS, NO_MEMBERSHIP, *PROJECT_ROLES, AUDITOR, STAFF]
SIGNED_IN = [role for role in ROLES if role != ANONYMOUS]
LOGIN = "login redirect"
ADMIN_LOGIN = "admin login redirect"
ANY_ANSWER = "any answer that is not a refusal"
# A simulated provider checks its own credentials (a key header, a signed link), not our session: it may refuse.
PROVIDER_ANSWER = "the simulated provider's own answer"
ADMIN_ANSWER = "the admin's own answer"  # signed in as staff; read-only models still refuse add and delete
METRICS_TOKEN = "scrape-token-for-tests"
DECLARED = "the first method the endpoint declares"


@dataclass(frozen=True)
class Rule:
    """Who may use an endpoint: the answer each role gets, and with an API key (own environment, another's)."""

    answers: dict
    method: str = "GET"
    data: dict = field(default_factory=dict)
    own_key: int | None = None
    other_key: int | None = None
    metrics_token: int | None = None


def everyone(answer, method="GET", **extra) -> Rule:
    return Rule({role: answer for role in ROLES}, method=method, **extra)


def signed_in(answer=200, *, non_members=200, method="GET", data=None) -> Rule:
    answers = {ANONYMOUS: LOGIN, NO_MEMBERSHIP: non_members}
    answers.update({role: answer for role in [*PROJECT_ROLES, AUDITOR, STAFF]})
    return Rule(answers, method=method, data=data or {})


def auditors_and_project_admins(answer, *, method="GET", data=None) -> Rule:
    answers = {role: 403 for role in ROLES}
    answers.update({ANONYMOUS: LOGIN, Role.ADMIN: answer, AUDITOR: answer, STAFF: answer})
    return Rule(answers, method=method, data=data or {})


def developers_and_up(answer, *, method="GET", data=None) -> Rule:
    answers = {role: 403 for role in ROLES}
    answers.update({ANONYMOUS: LOGIN, Role.DEVELOPER: answer, Role.APPROVER: answer, Role.ADMIN: answer, STAFF: answer})
    return Rule(answers, method=method, data=data or {})


def project_members(answer, *, method="GET", data=None) -> Rule:
    """A project page: its members and site-wide auditors read it; it does not exist for anyone else."""
    answers = {ANONYMOUS: LOGIN, NO_MEMBERSHIP: 404}
    answers.update({role: answer for role in [*PROJECT_ROLES, AUDITOR, STAFF]})
    return Rule(answers, method=method, data=data or {})


def project_admins(answer, *, method="GET", data=None) -> Rule:
    """Project administration: the project's admins and superusers; other members and auditors get 403."""
    answers = {ANONYMOUS: LOGIN, NO_MEMBERSHIP: 404}
    answers.update({role: 403 for role in [*PROJECT_ROLES, AUDITOR]})
    answers.update({Role.ADMIN: answer, STAFF: answer})
    return Rule(answers, method=method, data=data or {})


def project_role_at_least(minimum: str, answer, *, method="GET", data=None) -> Rule:
    """A project page for members with at least `minimum`: others get 403, non-members 404."""
    answers = {ANONYMOUS: LOGIN, NO_MEMBERSHIP: 404, AUDITOR: 403, STAFF: answer}
    answers.update({role: answer if Role.rank(role) >= Role.rank(minimum) else 403 for role in PROJECT_ROLES})
    return Rule(answers, method=method, data=data or {})


def api_key(own: int, other: int, method="GET", data=None) -> Rule:
    """The session does not count on /v1: without a bearer key every role gets 401."""
    return Rule({role: 401 for role in ROLES}, method=method, data=data or {}, own_key=own, other_key=other)


def access_token() -> Rule:
    """The management API: a personal access token, never the session; every role gets 401, whatever the method."""
    return Rule({role: 401 for role in ROLES}, method=DECLARED)


def staff_only() -> Rule:
    return Rule({**{role: ADMIN_LOGIN for role in ROLES}, STAFF: ADMIN_ANSWER})


RULES: dict[str, Rule] = {
    # Sign-in and the dashboard.
    "login": everyone(200),
    "logout": everyone(302, method="POST"),
    # Single sign-on: anyone may go to the provider and come back; without OIDC_ISSUER (as here) neither exists.
    "sso:start": everyone(404),
    "sso:callback": everyone(404),
    "dashboard:overview": signed_in(),
    "dashboard:favicon": everyone(302),  # to our static SVG icon, for anyone
    "notifications:inbox": signed_in(),
    "notifications:mark_read": signed_in(302, non_members=302, method="POST"),  # only ever their own
    "dashboard:generation_list": signed_in(),
    "dashboard:generation_detail": signed_in(non_members=404),
    "catalog:catalog": signed_in(),  # the catalog belongs to no project
    "dashboard:usage": signed_in(),  # shows only the user's projects; an empty state for non-members
    "dashboard:generation_row": signed_in(non_members=404),
    "dashboard:generation_content": signed_in(404, non_members=404),  # queued: no content yet, for anyone
    "dashboard:playground": developers_and_up(200),
    "dashboard:project_list": signed_in(),
    "dashboard:project_detail": project_members(200),
    "policies:revision_diff": project_members(200),
    "policies:policy_editor": project_admins(200),
    "dashboard:api_key_create": project_admins(200),
    "dashboard:api_key_revoke": project_admins(404),  # no such key: allowed, but nothing to revoke
    "dashboard:member_add": project_admins(400, method="POST"),  # no username given: the form says so
    "dashboard:member_change": project_admins(404, method="POST"),  # no such member
    "dashboard:member_remove": project_admins(404, method="POST"),
    "exports:audit": auditors_and_project_admins(200),
    # Migration plans: members read them; no plan 1 exists, so allowed roles get a 404.
    "snapshot_migrations:approvals": signed_in(),
    "snapshot_migrations:plan_list": project_members(200),
    "snapshot_migrations:plan_create": project_role_at_least(Role.DEVELOPER, 200),
    "snapshot_migrations:checklist_settings": project_admins(200),
    "snapshot_migrations:plan_detail": project_members(404),
    "snapshot_migrations:plan_edit": project_role_at_least(Role.DEVELOPER, 404),
    "snapshot_migrations:plan_action": project_members(404, method="POST"),
    "snapshot_migrations:step_sign_off": project_members(404, method="POST"),
    "snapshot_migrations:step_evidence": project_role_at_least(Role.DEVELOPER, 404, method="POST"),
    "snapshot_migrations:step_attach": project_role_at_least(Role.DEVELOPER, 404, method="POST"),
    "snapshot_migrations:evidence_file": project_members(404),
    "snapshot_migrations:comparison_run": project_role_at_least(Role.DEVELOPER, 404, method="POST"),
    "snapshot_migrations:comparison_verdict": project_role_at_least(Role.APPROVER, 404, method="POST"),
    "exports:audit_verify": auditors_and_project_admins(302, method="POST"),
    "exports:audit_events": auditors_and_project_admins(200),
    "exports:audit_export": auditors_and_project_admins(200, method="POST", data={"generations-format": "csv"}),
    "exports:audit_manifest": auditors_and_project_admins(404),  # no such export: allowed, but nothing to show
    "exports:content_verify": auditors_and_project_admins(200),
    "dashboard:content_credentials": project_admins(302, method="POST"),
    # Lifecycle: the impact view shows only the user's environments; webhooks are project administration.
    "lifecycle:impact": signed_in(),
    "lifecycle:webhooks": project_admins(200),
    "lifecycle:snapshot_review": Rule(
        {**{role: 403 for role in SIGNED_IN}, ANONYMOUS: LOGIN, STAFF: 404}, method="POST"
    ),  # site admins only; no such snapshot
    "lifecycle:webhook_delete": project_admins(404, method="POST"),  # no such webhook
    # Operations: probes are open; metrics need the bearer token (sessions do not count).
    "operations:healthz": everyone(200),
    "operations:readyz": everyone(200),
    "operations:metrics": Rule({role: 401 for role in ROLES}, metrics_token=200),
    # A provider's completion callback: its signed token is the credential, not a session or key. An unsigned
    # token is not found; a signed one only makes the tracker poll the job, at most GENERATION_CALLBACKS_PER_MINUTE
    # times a minute (tests/generations/test_tracking.py).
    "provider-callback": everyone(404, method="POST"),
    # The gateway: an API key of an environment; another environment's videos are not found.
    "generations:videos": api_key(own=200, other=200),
    "generations:video": api_key(own=200, other=404),
    "generations:video_content": api_key(own=400, other=404),  # not ready yet: a readable 400
    "generations:video_remix": api_key(own=400, other=404, method="POST"),
    "generations:models": api_key(own=200, other=200),
    "generations:model": api_key(own=200, other=200),
    "generations:video_edit": api_key(own=400, other=400, method="POST"),  # no prompt: a readable 400
    "generations:video_extension": api_key(own=400, other=400, method="POST"),
    "generations:characters": api_key(own=400, other=400, method="POST"),
    "generations:character": api_key(own=404, other=404),  # no such character in either environment
    "generations:unknown_url": everyone(404),
    "generations:openapi": everyone(200),  # the gateway's OpenAPI document is public, like OpenAI's
    # The management API: personal access tokens only (tests/management_api/ checks what each role may do there).
    "management_api:openapi": everyone(200),  # its OpenAPI document is public, like the gateway's
    "management_api:unknown_url": everyone(404),
    "management_api:*": access_token(),
    # Each user's own access tokens; no token 1 is theirs.
    "access_tokens:tokens": signed_in(),
    "access_tokens:revoke": signed_in(404, non_members=404, method="POST"),
    # The simulator, only when SIMULATOR_ENABLED: an unauthenticated fake provider (off in production).
    "simulator:*": everyone(ANY_ANSWER),
    "simulator-lumen:*": everyone(ANY_ANSWER),
    "simulator-runway:*": everyone(401),  # Runway's dialect wants a bearer key, as Runway does; no session helps
    # Its result links and each provider's dialect (`simulator-<kind>`): fake providers, their own auth headers.
    "simulator-*:*": everyone(PROVIDER_ANSWER),
    "simulator-vertex:model-call": everyone(401),  # Vertex wants an OAuth2 bearer token, as Google does
    # The admin: its own sign-in, then staff only.
    "admin:login": everyone(ANY_ANSWER),
    "admin:logout": everyone(302, method="POST"),
    "admin:*": staff_only(),
}


@dataclass(frozen=True)
class Endpoint:
    key: str
    route: str
    pattern: URLPattern


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[Endpoint]:
    endpoints = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            endpoints += walk(entry, route, inner)
        else:
            key = f"{namespace}:{entry.name or route}".strip(":")
            endpoints.append(Endpoint(key=key, route=route, pattern=entry))
    return endpoints


def rule_for(key: str) -> Rule | None:
    if key in RULES:
        return RULES[key]
    wildcards = [pattern for pattern in RULES if "*" in pattern and fnmatch.fnmatchcase(key, pattern)]
    return RULES[wildcards[0]] if wildcards else None


SAMPLES = {
    "variant": "video",
    "kind": "generations",
    "export_id": "exp_missing",
    "model_id": OLD,
    "model_name": OLD,
    "url": "nowhere/",
    "project_slug": "shop",
    "environment_name": "production",
    "project": "shop",
    "environment": "production",
    "key_id": "0",
    "membership_id": "0",
    "snapshot_id": "0",
}


def sample_path(route: str, video_id: str) -> str:
    """A concrete path for a route, with a value for each of its parameters."""

    def route_value(match: re.Match) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if name == "video_id":
            return video_id
        return SAMPLES.get(name, "1" if converter in ("int", "path") else "sample_1")

    def regex_value(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        return SAMPLES.get(name) or body.split("|")[0]

    path = re.sub(r"\(\?P<(\w+)>([^)]*)\)", regex_value, route)
    path = re.sub(r"<(?:(\w+):)?(\w+)>", route_value, path)
    path = path.replace("^", "").replace("$", "").replace(".*", "nowhere").replace("\\", "")
    return "/" + path


@pytest.fixture
def world(db, settings):
    """A project with a member of each role, an auditor, a stranger, a superuser and two environments' keys."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    record_worker_heartbeat("worker@test")
    project = make_project("shop")
    environment = make_environment(project, "production", allowed_snapshots=[OLD])
    own_key, other_key = make_api_key(environment), make_api_key(make_environment(make_project("other")))
    video_id = Api(own_key).post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"}).json()["id"]
    users = {role: make_member(project, role) for role in PROJECT_ROLES}
    users[NO_MEMBERSHIP] = make_user()
    users[AUDITOR] = make_user()
    users[AUDITOR].groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    users[STAFF] = make_user(is_staff=True, is_superuser=True)
    return {"users": users, "video_id": video_id, "own_key": own_key, "other_key": other_key}


def client_as(role: str, world: dict) -> Client:
    client = Client()
    if role != ANONYMOUS:
        client.force_login(world["users"][role])
    return client


def request(client: Client, rule: Rule, path: str, endpoint: Endpoint, **headers):
    method = rule.method if rule.method != DECLARED else sorted(endpoint.pattern.callback.operations)[0]
    return getattr(client, method.lower())(path, rule.data, headers=headers)


def problems_with(answer, response, path: str) -> str:
    location = response.get("Location", "")
    if answer == LOGIN:
        ok = response.status_code == 302 and location.startswith("/login/")
    elif answer == ADMIN_LOGIN:
        ok = response.status_code == 302 and location.startswith("/admin/login/")
    elif answer == ANY_ANSWER:
        ok = response.status_code not in (401, 403) and response.status_code < 500
        ok = ok and not location.startswith(("/login/", "/admin/login/"))
    elif answer == PROVIDER_ANSWER:
        ok = response.status_code < 500
    elif answer == ADMIN_ANSWER:
        ok = response.status_code < 500 and not location.startswith("/admin/login/")
    else:
        ok = response.status_code == answer
    return "" if ok else f"expected {answer}, got {response.status_code} {location}".strip()


def test_every_url_pattern_has_an_explicit_rule():
    missing = [endpoint.key for endpoint in walk(get_resolver()) if rule_for(endpoint.key) is None]

    assert missing == [], "URL patterns without a permission rule in RULES: " + ", ".join(missing)


def test_every_rule_names_a_url_pattern_that_exists():
    keys = [endpoint.key for endpoint in walk(get_resolver())]
    stale = [rule for rule in RULES if not any(fnmatch.fnmatchcase(key, rule) for key in keys)]

    assert stale == []


@pytest.mark.django_db
def test_every_role_gets_what_the_rule_says_on_every_url(world):
    failures = []
    signed_in_once = {role: client_as(role, world) for role in ROLES}
    for endpoint in walk(get_resolver()):
        rule = rule_for(endpoint.key)
        path = sample_path(endpoint.route, world["video_id"])
        assert resolve(path).func == endpoint.pattern.callback, f"{path} does not reach {endpoint.key}"
        for role in ROLES:
            ends_the_session = endpoint.key.endswith("logout")
            client = client_as(role, world) if ends_the_session else signed_in_once[role]
            response = request(client, rule, path, endpoint)
            if problem := problems_with(rule.answers[role], response, path):
                failures.append(f"{rule.method} {path} ({endpoint.key}) as {role}: {problem}")
        for token, expected in ((world["own_key"], rule.own_key), (world["other_key"], rule.other_key)):
            if expected is not None:
                response = request(Client(), rule, path, endpoint, Authorization=f"Bearer {token}")
                if problem := problems_with(expected, response, path):
                    failures.append(f"{rule.method} {path} ({endpoint.key}) with a key: {problem}")
        if rule.metrics_token is not None:
            response = request(Client(), rule, path, endpoint, Authorization=f"Bearer {METRICS_TOKEN}")
            if problem := problems_with(rule.metrics_token, response, path):
                failures.append(f"{rule.method} {path} ({endpoint.key}) with the metrics token: {problem}")

    assert failures == [], "\n".join(failures)


def test_the_simulator_has_no_url_when_it_is_disabled():
    """Read in a process of its own, as production starts: SIMULATOR_ENABLED off."""
    script = (
        "import django, json; django.setup()\n"
        "from django.urls import get_resolver\n"
        "from tests.authorization.test_url_permissions import rule_for, walk\n"
        "keys = [endpoint.key for endpoint in walk(get_resolver())]\n"
        "print(json.dumps({'keys': keys, 'without_rule': [key for key in keys if rule_for(key) is None]}))\n"
    )
    env = {**os.environ, "SIMULATOR_ENABLED": "0", "DJANGO_SETTINGS_MODULE": "governance.settings"}

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    walked = json.loads(result.stdout.strip().splitlines()[-1])
    assert "dashboard:overview" in walked["keys"]
    assert [key for key in walked["keys"] if key.startswith("simulator")] == []
    assert walked["without_rule"] == []
