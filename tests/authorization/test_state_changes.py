"""Every request that can change state is refused to whoever may not make it, and then changes nothing.

The URL permission table (test_url_permissions.py) checks one request per pattern on
empty data. Here every dashboard endpoint that accepts POST, PUT, PATCH or DELETE is
tried on real records of a project (`two_projects.build()`), by every user, with data
that works for the users allowed: everyone else is refused and the database is left as
it was (but for the audit events that record refusals). The project's admins of
another project try each with their own project in the URL and the first project's
ids (an object of another project must be as missing as one that does not exist). A
new endpoint that accepts a write fails `test_every_endpoint_that_accepts_a_write_is_listed`
until it is listed in WRITES with who may use it.
"""

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse

from governance.infra.caching import forget_everything
from tests.authorization import two_projects
from tests.authorization.test_url_permissions import sample_path, walk
from tests.authorization.two_projects import (
    ADMINS,
    ANONYMOUS,
    APPROVERS_NOT_AUTHOR,
    AUDITORS_AND_PROJECT_ADMINS,
    AUTHOR_OR_ADMIN,
    DEVELOPERS,
    SITE_ADMINS,
    USERS,
    changed_tables,
    database_state,
)
from tests.factories import NEW, OLD

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Write:
    """One state-changing request: the URL's name and arguments (`{name}` is a record id), its data, who may."""

    name: str
    kwargs: dict
    allowed: tuple[str, ...]
    data: dict = field(default_factory=dict)
    changes: bool = True  # False: allowed, but it only reads (it is a POST to carry an upload)
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or self.name


PLAN = {"project_slug": "shop"}
POLICY = {
    "default_model": OLD,
    "allowed_snapshots": [OLD, NEW],
    "alias_requests": "refuse",
    "canary_snapshot": "",
    "canary_percent": "0",
    "reason": "tightening",
}
PLAN_FORM = {"environment": "development", "to_snapshot": NEW, "reason": "why", "stages": "10, 100", "window_hours": 1}

WRITES = [
    Write("dashboard:playground", {}, DEVELOPERS, {"environment": "{development}", "prompt": "a cat", "model": OLD}),
    Write("policies:policy_editor", {**PLAN, "environment_name": "development"}, ADMINS, POLICY),
    Write("dashboard:api_key_create", {**PLAN, "environment_name": "development"}, ADMINS, {"name": "ci"}),
    Write("dashboard:api_key_revoke", {**PLAN, "key_id": "{key}"}, ADMINS),
    Write("dashboard:content_credentials", {**PLAN, "environment_name": "development"}, ADMINS),  # signing off
    Write("dashboard:member_add", PLAN, ADMINS, {"username": "{stranger}", "role": "viewer"}),
    Write("dashboard:member_change", {**PLAN, "membership_id": "{viewer_membership}"}, ADMINS, {"role": "admin"}),
    Write("dashboard:member_remove", {**PLAN, "membership_id": "{viewer_membership}"}, ADMINS),
    Write("lifecycle:webhooks", PLAN, ADMINS, {"url": "https://93.184.215.14/new", "description": "x"}),
    Write("lifecycle:webhook_delete", {**PLAN, "webhook_id": "{webhook}"}, ADMINS),
    Write("lifecycle:snapshot_review", {"snapshot_id": "{unreviewed_snapshot}"}, SITE_ADMINS),
    Write("exports:audit_verify", {}, AUDITORS_AND_PROJECT_ADMINS),
    Write("exports:audit_export", {"kind": "audit"}, AUDITORS_AND_PROJECT_ADMINS, {"audit-format": "csv"}),
    Write("exports:content_verify", {}, AUDITORS_AND_PROJECT_ADMINS, changes=False),
    Write("snapshot_migrations:plan_create", PLAN, DEVELOPERS, PLAN_FORM),
    Write("snapshot_migrations:checklist_settings", PLAN, ADMINS, {"action": "prompts", "prompts": "a dog"}),
    Write(
        "snapshot_migrations:plan_edit",
        {**PLAN, "plan_id": "{draft}"},
        AUTHOR_OR_ADMIN,
        {**PLAN_FORM, "reason": "a better reason"},
    ),
    *[
        Write(
            "snapshot_migrations:plan_action",
            {**PLAN, "plan_id": "{" + plan + "}", "action": action},
            allowed,
            data,
            label=f"plan_action:{action}",
        )
        for action, plan, allowed, data in [
            ("submit", "draft", AUTHOR_OR_ADMIN, {}),
            ("cancel", "draft", AUTHOR_OR_ADMIN, {}),
            ("benchmark", "draft", DEVELOPERS, {}),
            ("start", "approved", ADMINS, {}),
            ("advance", "rolling_out", ADMINS, {"reason": "seen enough"}),
            ("rollback", "rolling_out", APPROVERS_NOT_AUTHOR, {"reason": "worse"}),
        ]
    ],
    Write(
        "snapshot_migrations:step_sign_off",
        {**PLAN, "plan_id": "{in_review}", "step_id": "{in_review_step}"},
        APPROVERS_NOT_AUTHOR,
        {"decision": "approve", "comment": "looked at it"},
    ),
    Write(
        "snapshot_migrations:step_evidence",
        {**PLAN, "plan_id": "{draft}", "step_id": "{draft_step}"},
        DEVELOPERS,
        {"evidence": "new evidence"},
    ),
    Write(
        "snapshot_migrations:step_attach",
        {**PLAN, "plan_id": "{draft}", "step_id": "{draft_step}"},
        DEVELOPERS,
    ),
    Write("snapshot_migrations:comparison_run", {**PLAN, "plan_id": "{draft}"}, DEVELOPERS),
    Write(
        "snapshot_migrations:comparison_verdict",
        {**PLAN, "plan_id": "{draft}", "pair_id": "{pair}"},
        APPROVERS_NOT_AUTHOR,
        {"verdict": "better"},
    ),
]
# Endpoints that accept a write but belong to no project: their own tests say what they do.
NOT_PROJECT_WRITES = {
    "login": "signs in (tests/dashboard)",
    "logout": "signs out",
    "admin:*": "the admin: staff only, by Django's own permissions (test_url_permissions)",
    "notifications:mark_read": "marks only the user's own notifications (test_marking_read_touches_only_ones_own)",
    "access_tokens:*": "each user's own tokens (tests/management_api/test_access_tokens.py)",
    "management_api:*": "a bearer token, never the session (tests/management_api/test_writes_by_role.py)",
    "provider-callback": "a provider's callback, by its signed token alone; it only makes the tracker poll the job",
}


@pytest.fixture
def world(db, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # the webhooks here are public addresses, never called
    return two_projects.build()


def url_of(write: Write, world, project_slug: str | None = None) -> str:
    values = {**world.ids, "stranger": world.users["stranger"].username}
    kwargs = {name: _filled(value, values) for name, value in write.kwargs.items()}
    if project_slug is not None:
        kwargs["project_slug"] = project_slug
    return reverse(write.name, kwargs=kwargs)


def data_of(write: Write, world) -> dict:
    values = {**world.ids, "stranger": world.users["stranger"].username}
    data = {name: _filled(value, values) for name, value in write.data.items()}
    if write.name == "exports:content_verify":
        data["file"] = SimpleUploadedFile("x.mp4", b"not a video", "video/mp4")
    if write.name == "snapshot_migrations:step_attach":
        data["file"] = SimpleUploadedFile("report.txt", b"12 passed", "text/plain")
    return data


def _filled(value, values: dict):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return str(values[value[1:-1]])
    return value


def client_for(world, user: str, **options) -> Client:
    client = Client(**options)
    if user != ANONYMOUS:
        client.force_login(world.users[user])
    return client


def is_refusal(response) -> bool:
    """400 (a form that offers only the user's own projects), 403, 404, 405, or a redirect: to sign in, or
    (plan services) back to the plan page with the refusal said; the database decides whether it was one."""
    if response.status_code in (400, 403, 404, 405):
        return True
    return response.status_code == 302


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.id)
def test_only_the_allowed_users_change_anything(world, write):
    before = database_state()
    problems = []
    attempts = [(user, url_of(write, world)) for user in USERS if user not in write.allowed]
    if "project_slug" in write.kwargs and any(str(value).startswith("{") for value in write.kwargs.values()):
        attempts.append(("rival_admin", url_of(write, world, project_slug="rival")))  # their project, our ids
    for user, url in attempts:
        for method in WRITE_METHODS:
            response = getattr(client_for(world, user), method)(url, data_of(write, world))
            if not is_refusal(response):
                problems.append(f"{method.upper()} {url} as {user}: {response.status_code}")
            if changed := changed_tables(before, database_state()):
                problems.append(f"{method.upper()} {url} as {user} changed {', '.join(changed)}")
                before = database_state()

    assert problems == [], "\n".join(problems)
    allowed = client_for(world, write.allowed[0]).post(url_of(write, world), data_of(write, world))
    if allowed.streaming:
        b"".join(allowed.streaming_content)  # an export is made, and audited, as it is read
    assert allowed.status_code < 400 or not write.changes, allowed.content.decode()[:2000]
    assert bool(changed_tables(before, database_state())) == write.changes  # so the refusals above meant something


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.id)
def test_a_write_without_the_csrf_token_is_refused(world, write):
    before = database_state()

    response = client_for(world, write.allowed[0], enforce_csrf_checks=True).post(
        url_of(write, world), data_of(write, world)
    )

    assert response.status_code == 403
    assert changed_tables(before, database_state()) == []


def test_every_endpoint_that_accepts_a_write_is_listed(world):
    """As a superuser, who passes every role check, a write to anything not listed must be a 405."""
    listed = {write.name for write in WRITES}
    superuser = client_for(world, "superuser")
    unlisted = []
    for endpoint in walk(get_resolver()):
        key = endpoint.key
        not_here = ("admin:", "generations:", "simulator", "access_tokens:", "management_api:")
        if key in listed or key in NOT_PROJECT_WRITES or key.startswith(not_here):
            continue
        path = sample_path(endpoint.route, world.video_id)
        for method in WRITE_METHODS:
            with transaction.atomic():
                response = getattr(superuser, method)(path)
                transaction.set_rollback(True)
            forget_everything()
            if response.status_code != 405:
                unlisted.append(f"{method.upper()} {path} ({key}): {response.status_code}")

    assert unlisted == [], "Endpoints that accept a write without a WRITES entry:\n" + "\n".join(unlisted)


def test_marking_read_touches_only_ones_own(world):
    theirs = world.users["approver"].notifications.filter(read_at__isnull=True)
    assert theirs.exists()

    for user in ("stranger", "viewer", "rival_admin", "auditor"):
        for notification in theirs:
            client_for(world, user).post(reverse("notifications:mark_read"), {"notification": notification.pk})
        client_for(world, user).post(reverse("notifications:mark_read"))

    assert world.users["approver"].notifications.filter(read_at__isnull=True).count() == theirs.count()
