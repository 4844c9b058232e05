"""Every write of the management API, with every user's own token: only the users the dashboard allows change
anything, everyone else is refused and the database is left as it was (but for the audit events of refusals).
The same two projects as the dashboard's test (tests/authorization/test_state_changes.py)."""

from dataclasses import dataclass

import pytest

from tests.authorization import two_projects
from tests.authorization.two_projects import (
    ADMINS,
    ANONYMOUS,
    APPROVERS_NOT_AUTHOR,
    AUDITORS_AND_PROJECT_ADMINS,
    AUTHOR_OR_ADMIN,
    DEVELOPERS,
    USERS,
    changed_tables,
    database_state,
)
from tests.factories import NEW, OLD
from tests.management_api.conftest import TokenApi, token_of

pytestmark = pytest.mark.django_db
REFUSALS = (400, 401, 403, 404, 405, 409)


@dataclass(frozen=True)
class ApiWrite:
    method: str
    path: str  # `{name}` is a record id of the world, or a user's name
    allowed: tuple[str, ...]
    body: dict | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


PLANS = "projects/shop/plans"
WRITES = [
    ApiWrite("put", "projects/shop/members/{stranger}", ADMINS, {"role": "viewer"}),
    ApiWrite("delete", "projects/shop/members/{viewer}", ADMINS),
    ApiWrite(
        "post",
        "projects/shop/environments/development/policy/revisions",
        ADMINS,
        {"allowed_snapshots": [OLD], "reason": "tightening"},
    ),
    ApiWrite("post", PLANS, DEVELOPERS, {"environment": "development", "to_snapshot": NEW, "reason": "why"}),
    ApiWrite("patch", PLANS + "/{draft}", AUTHOR_OR_ADMIN, {"reason": "a better reason"}),
    ApiWrite("post", PLANS + "/{draft}/submit", AUTHOR_OR_ADMIN),
    ApiWrite("post", PLANS + "/{draft}/cancel", AUTHOR_OR_ADMIN, {"reason": "not now"}),
    ApiWrite("post", PLANS + "/{approved}/rollout/start", ADMINS),
    ApiWrite("post", PLANS + "/{rolling_out}/rollout/advance", ADMINS, {"reason": "seen enough"}),
    ApiWrite("post", PLANS + "/{rolling_out}/rollback", APPROVERS_NOT_AUTHOR, {"reason": "worse"}),
    ApiWrite(
        "post",
        PLANS + "/{in_review}/steps/{in_review_step}/sign-off",
        APPROVERS_NOT_AUTHOR,
        {"decision": "approve", "comment": "looked at it"},
    ),
    ApiWrite("put", PLANS + "/{draft}/steps/{draft_step}/evidence", DEVELOPERS, {"evidence": "new evidence"}),
    ApiWrite("post", PLANS + "/{draft}/steps/{draft_step}/evidence", DEVELOPERS, {"link": "https://ci.example.com/9"}),
    ApiWrite("post", "audit/exports", AUDITORS_AND_PROJECT_ADMINS, {"kind": "audit", "format": "csv"}),
]


@pytest.fixture
def world(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    world = two_projects.build()
    world.tokens = {user: token_of(world.users[user]) for user in USERS if user != ANONYMOUS}
    return world


def path_of(write: ApiWrite, world, project: str = "shop") -> str:
    names = {name: user.username for name, user in world.users.items()}
    path = write.path.format(**world.ids, **names)
    return path.replace("projects/shop/", f"projects/{project}/")


def send(world, user: str, write: ApiWrite, path: str):
    return TokenApi(world.tokens.get(user)).send(write.method, path, write.body)


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.id)
def test_only_the_users_the_dashboard_allows_change_anything(world, write):
    before = database_state()
    problems = []
    attempts = [(user, path_of(write, world)) for user in USERS if user not in write.allowed]
    if write.path.startswith("projects/") and any("{" + name + "}" in write.path for name in world.ids):
        attempts.append(("rival_admin", path_of(write, world, project="rival")))  # their project, our ids
    for user, path in attempts:
        response = send(world, user, write, path)
        if response.status_code not in REFUSALS:
            problems.append(f"{write.method.upper()} {path} as {user}: {response.status_code}")
        if changed := changed_tables(before, database_state()):
            problems.append(f"{write.method.upper()} {path} as {user} changed {', '.join(changed)}")
            before = database_state()

    assert problems == [], "\n".join(problems)
    allowed = send(world, write.allowed[0], write, path_of(write, world))
    if allowed.streaming:
        b"".join(allowed.streaming_content)  # an export is made, and audited, as it is read
    assert allowed.status_code < 400, allowed.content.decode()[:2000]
    assert changed_tables(before, database_state())  # so the refusals above meant something
