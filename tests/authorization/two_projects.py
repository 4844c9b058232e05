"""Two projects full of real records, for checking that one project's people cannot read or change the other's.

`shop` is the project under attack: a member of each role (a second developer and a
second approver besides the plan's author), an API key, a generation, a webhook and a
migration plan in each state. `rival` is another project, administered by
`rival_admin`, who is the strongest user without any role in `shop`. Every distinctive
text of `shop` starts with MARK, so a page that leaks any of it is easy to catch.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session

from governance.audit.models import AuditChainHead, AuditEvent
from governance.catalog.models import Snapshot
from governance.generations import worker
from governance.lifecycle.services import create_webhook
from governance.management_api.models import AccessToken
from governance.projects.models import AUDITOR_GROUP, ApiKey, Membership, Role
from governance.simulator.models import SimulatorProfile
from governance.snapshot_migrations import services as plans
from governance.snapshot_migrations.models import MigrationPlan
from tests.factories import NEW, OLD, SYSTEM, make_api_key, make_environment, make_member, make_project, make_user
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

MARK = "shopsecret"
ANONYMOUS = "anonymous"
USERS = [
    ANONYMOUS,
    "stranger",  # signed in, no membership anywhere
    "viewer",
    "author",  # a developer, author of every plan
    "developer",
    "approver",
    "approver2",
    "admin",
    "auditor",  # site-wide, reads everything, changes nothing
    "rival_admin",  # admin of another project only
    "superuser",
]
# Who does what in `shop`; the first of each is the one the tests use to show the write works.
ADMINS = ("admin", "superuser")
DEVELOPERS = ("developer", "author", "approver", "approver2", "admin", "superuser")
APPROVERS_NOT_AUTHOR = ("approver", "approver2", "admin", "superuser")
AUTHOR_OR_ADMIN = ("author", "admin", "superuser")
AUDITORS_AND_PROJECT_ADMINS = ("auditor", "admin", "rival_admin", "superuser")  # project admins: their own records
SITE_ADMINS = ("superuser",)
# Columns that signing in or using a token changes, whatever the request then does.
UNTRACKED = {get_user_model(): ("last_login",), AccessToken: ("last_used_at",)}
# Refused attempts are audited: the only rows a refused request may add.
REFUSAL_ACTIONS = ("auth.refused", "migration.refused")


@dataclass
class TwoProjects:
    users: dict
    ids: dict = field(default_factory=dict)
    raw_key: str = ""
    rival_key: str = ""
    video_id: str = ""


def _finished(pair):
    """The pair with both runs completed on the simulator in-process, so that it may be judged."""
    for snapshot in (OLD, NEW):
        SimulatorProfile.objects.update_or_create(snapshot=snapshot, defaults={"latency_seconds": 0, "failure_rate": 0})
    with use_transport(simulator_transport()):
        for run in (pair.baseline, pair.candidate):
            for _ in range(10):
                if worker.advance(run.pk).countdown is None:
                    break
    pair.refresh_from_db()
    assert pair.is_finished
    return pair


def build() -> TwoProjects:
    shop, rival = make_project("shop", name=f"{MARK} Shop"), make_project("rival")
    users = {"stranger": make_user(), "superuser": make_user(is_staff=True, is_superuser=True)}
    users["auditor"] = make_user()
    users["auditor"].groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    roles = {
        "viewer": Role.VIEWER,
        "author": Role.DEVELOPER,
        "developer": Role.DEVELOPER,
        "approver": Role.APPROVER,
        "approver2": Role.APPROVER,
        "admin": Role.ADMIN,
    }
    users.update({name: make_member(shop, role, user=make_user(f"{MARK}-{name}")) for name, role in roles.items()})
    users["rival_admin"] = make_member(rival, Role.ADMIN)

    environments = {
        name: make_environment(shop, name, default_model=OLD, allowed_snapshots=[OLD, NEW])
        for name in ("development", "testing", "staging", "production")
    }
    world = TwoProjects(users=users)
    world.raw_key = make_api_key(environments["development"])
    world.rival_key = make_api_key(make_environment(rival, "development"))
    prompt = {"prompt": f"{MARK} a lighthouse", "model": OLD, "seconds": "4"}
    world.video_id = Api(world.raw_key).post("videos", prompt).json()["id"]
    webhook, _ = create_webhook(project=shop, url="https://93.184.215.14/hooks/" + MARK, description=MARK, actor=SYSTEM)

    author = users["author"]
    draft = _plan(environments["development"], author, users)
    pair = _finished(plans.run_comparison(plan=draft, user=author)[0])
    in_review = _plan(environments["staging"], author, users)
    plans.submit_for_review(plan=in_review, user=author)
    approved = _approved(_plan(environments["testing"], author, users), users)
    rolling_out = _approved(_plan(environments["production"], author, users), users)
    plans.start_rollout(plan=rolling_out, user=users["admin"])
    discovered = Snapshot.objects.get(name=NEW)
    unreviewed = Snapshot.objects.create(
        provider=discovered.provider, name="sora-2-2099-01-01", family=discovered.family, reviewed=False
    )

    world.ids = {
        "draft": draft.pk,
        "draft_step": draft.steps.first().pk,
        "pair": pair.pk,
        "in_review": in_review.pk,
        "in_review_step": in_review.steps.first().pk,
        "approved": approved.pk,
        "rolling_out": rolling_out.pk,
        "key": ApiKey.objects.get(environment=environments["development"], name="test key").pk,
        "viewer_membership": Membership.objects.get(project=shop, user=users["viewer"]).pk,
        "webhook": webhook.pk,
        "unreviewed_snapshot": unreviewed.pk,
        "development": environments["development"].pk,
    }
    return world


def _plan(environment, author, users) -> MigrationPlan:
    plan = plans.create_plan(environment=environment, to_snapshot=NEW, reason=f"{MARK} move", author=author)
    for step in plan.steps.all():
        plans.update_evidence(plan=plan, step=step, user=author, evidence=f"{MARK} evidence", links="")
    return plan


def _approved(plan: MigrationPlan, users) -> MigrationPlan:
    plans.submit_for_review(plan=plan, user=users["author"])
    for step in plan.steps.all():
        signers = ["admin"] if step.required_role == Role.ADMIN else ["approver", "approver2"]
        for name in signers[: step.minimum_sign_offs]:
            plans.sign_off(plan=plan, step=step, user=users[name], decision="approve", comment="checked")
    plan.refresh_from_db()
    assert plan.state == MigrationPlan.State.APPROVED
    return plan


def database_state() -> dict:
    """Every row of every table, but sessions, sign-in times, tokens' last use and the audit events of refusals.

    Signing the test's users in (or using their tokens) changes the first three; a refused request may add the last.
    """
    state = {}
    for model in apps.get_models():
        if model in (Session, AuditChainHead):
            continue
        rows = model._base_manager.order_by("pk")
        if model is AuditEvent:
            rows = rows.exclude(action__in=REFUSAL_ACTIONS)
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in UNTRACKED.get(model, ())]
        state[model._meta.label] = list(rows.values_list(*columns))
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]
