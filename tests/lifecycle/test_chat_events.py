"""Each event reaches Slack and Teams as a message a person can act on: who, what, where, and a link to the page.

The deliveries take the real path: written with the action, handed to the worker once it commits (Celery eager
here), posted over HTTP to local receivers that check every message against the platform's format.
"""

import contextlib
import datetime as dt

import pytest
import time_machine

from governance.catalog.models import Alias, Snapshot
from governance.catalog.services import load_pack, read_pack, repoint_alias
from governance.lifecycle.models import WebhookDelivery
from governance.lifecycle.services import create_webhook, raise_shutdown_alerts
from governance.projects.models import Role
from governance.snapshot_migrations import services as plans
from tests.factories import (
    NEW,
    OLD,
    SYSTEM,
    make_environment,
    make_member,
    make_project,
    make_user,
    simulator_provider,
)
from tests.lifecycle.chat_receivers import ChatReceiver
from tests.lifecycle.webhook_receiver import WebhookReceiver
from tests.snapshot_migrations.conftest import add_evidence, approved, sign_all

pytestmark = pytest.mark.django_db

SITE = "https://governance.example.com"
START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class Channels:
    """A Slack channel, a Teams channel and a signed JSON endpoint, all of one project."""

    def __init__(self, slack: ChatReceiver, teams: ChatReceiver, signed: WebhookReceiver):
        self.slack, self.teams, self.signed = slack, teams, signed

    def messages(self) -> list[tuple[str, str, str]]:
        """Every chat message as (kind, what a person reads, the button's link), after checking its format."""
        read = []
        for hook in self.slack.received:
            assert hook["problems"] == [], hook["problems"]
            blocks = hook["payload"]["blocks"]
            words = "\n".join(
                [hook["payload"]["text"], blocks[0]["text"]["text"]]
                + [field["text"] for block in blocks if block["type"] == "section" for field in block.get("fields", [])]
                + [element["text"] for block in blocks if block["type"] == "context" for element in block["elements"]]
            )
            read.append(("slack", words, blocks[-1]["elements"][0]["url"]))
        for hook in self.teams.received:
            assert hook["problems"] == [], hook["problems"]
            card = hook["payload"]["attachments"][0]["content"]
            texts = [item["text"] for item in card["body"] if item["type"] == "TextBlock"]
            facts = [
                f"{fact['title']}: {fact['value']}"
                for item in card["body"]
                if item["type"] == "FactSet"
                for fact in item["facts"]
            ]
            read.append(("teams", "\n".join(texts + facts), card["actions"][0]["url"]))
        return read

    def told(self, title_start: str) -> list[tuple[str, str, str]]:
        """The Slack and the Teams message whose title starts so: exactly one each."""
        found = [m for m in self.messages() if any(line.startswith(title_start) for line in _titles(m[1]))]
        assert sorted(kind for kind, _, _ in found) == ["slack", "teams"], [m[1][:120] for m in self.messages()]
        return found

    def clear(self) -> None:
        for receiver in (self.slack, self.teams, self.signed):
            receiver.received.clear()


def _titles(words: str) -> list[str]:
    return [line.strip("*") for line in words.splitlines()]


@pytest.fixture
def shop(settings):
    settings.SITE_URL = SITE
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the receivers listen on loopback
    project = make_project("shop", name="Shop")
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    people = {
        "author": make_member(project, Role.APPROVER, user=make_user("alice")),
        "approver": make_member(project, Role.APPROVER, user=make_user("bob")),
        "lead": make_member(project, Role.APPROVER, user=make_user("carol")),
        "admin": make_member(project, Role.ADMIN, user=make_user("dana")),
    }
    return project, production, people


@pytest.fixture
def channels(shop, eager_tasks):
    project, _, _ = shop
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(ChatReceiver("slack"))
        teams = stack.enter_context(ChatReceiver("teams"))
        signed = stack.enter_context(WebhookReceiver())
        create_webhook(project=project, url=slack.url, description="", actor=SYSTEM, kind="slack")
        create_webhook(project=project, url=teams.url, description="", actor=SYSTEM, kind="teams")
        _, signed.secret = create_webhook(project=project, url=signed.url, description="", actor=SYSTEM)
        yield Channels(slack, teams, signed)


@pytest.fixture
def plan(shop, django_capture_on_commit_callbacks):
    _, production, people = shop
    with django_capture_on_commit_callbacks(execute=True):
        plan = plans.create_plan(
            environment=production, to_snapshot=NEW, reason="Better motion", author=people["author"]
        )
        add_evidence(plan, people)
    return plan


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Run an action and its commit's deliveries, as a worker would."""

    @contextlib.contextmanager
    def action():
        with time_machine.travel(START, tick=False), django_capture_on_commit_callbacks(execute=True):
            yield

    return action


def plan_link(plan) -> str:
    return f"{SITE}/projects/shop/migrations/{plan.pk}/"


def test_a_review_request_names_each_step_its_role_and_links_to_the_plan(shop, channels, plan, sent):
    _, _, people = shop

    with sent():
        plans.submit_for_review(plan=plan, user=people["author"])

    for _, words, link in channels.told(f"Review requested: Shop / Production, {OLD} → {NEW}"):
        assert "alice submitted the plan for review." in words
        assert "“Prompt compatibility tests”: 1 more sign-off, needs the approver role or above" in words
        assert "“Business acceptance”: 2 more sign-offs, needs the approver role or above" in words
        assert "“Gradual rollout plan”: 1 more sign-off, needs the admin role or above" in words
        assert "Better motion" in words and "alice" in words
        assert link == plan_link(plan)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookDelivery.Status.DELIVERED}


def test_signed_webhooks_get_the_review_request_as_signed_json(shop, channels, plan, sent):
    _, _, people = shop

    with sent():
        plans.submit_for_review(plan=plan, user=people["author"])

    (hook,) = channels.signed.received
    assert hook["verified"] and hook["payload"]["type"] == "plan.review_requested"
    data = hook["payload"]["data"]
    assert (data["project"], data["environment"], data["plan"], data["url"]) == (
        "shop",
        "production",
        plan.pk,
        plan_link(plan),
    )
    assert data["steps"][2] == {
        "step": "Business acceptance",
        "required_role": "approver",
        "sign_offs_needed": 2,
        "approvers": [],
    }


def test_new_evidence_in_review_asks_again_for_that_step_only(shop, channels, plan, sent):
    _, _, people = shop
    with sent():
        plans.submit_for_review(plan=plan, user=people["author"])
        step = plan.steps.get(title="Performance benchmark")
        plans.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="fast enough")
    channels.clear()

    with sent():
        plans.update_evidence(plan=plan, step=step, user=people["author"], evidence="new figures", links="")

    for _, words, link in channels.told("Review requested"):
        assert "alice changed the evidence of “Performance benchmark”, so its sign-offs were reset." in words
        assert "“Performance benchmark”: 1 more sign-off" in words and "Business acceptance" not in words
        assert link == plan_link(plan)


def test_an_approved_plan_says_who_gave_the_last_sign_off(shop, channels, plan, sent):
    _, _, people = shop
    with sent():
        plans.submit_for_review(plan=plan, user=people["author"])
    channels.clear()

    with sent():
        sign_all(plan, people)

    for _, words, link in channels.told(f"Plan approved: Shop / Production, {OLD} → {NEW}"):
        assert "dana gave the last sign-off the checklist needed; the plan may now be rolled out." in words
        assert link == plan_link(plan)


def test_a_rejected_plan_says_who_rejected_which_step_and_why(shop, channels, plan, sent):
    _, _, people = shop
    with sent():
        plans.submit_for_review(plan=plan, user=people["author"])
    channels.clear()

    with sent():
        step = plan.steps.get(title="Prompt compatibility tests")
        plans.sign_off(
            plan=plan, step=step, user=people["approver"], decision="reject", comment="Flicker in every clip"
        )

    for _, words, link in channels.told(f"Plan rejected: Shop / Production, {OLD} → {NEW}"):
        assert "bob rejected “Prompt compatibility tests”: Flicker in every clip" in words
        assert link == plan_link(plan)


def test_a_rollout_tells_each_move_from_start_to_completion(shop, channels, plan, sent):
    _, _, people = shop
    with sent():
        plan = approved(plan, people)
    channels.clear()

    with sent():
        plans.start_rollout(plan=plan, user=people["admin"])
        plan = plans.advance_rollout(plan=plan, user=people["admin"], override_reason="staging proved it")
        plan = plans.advance_rollout(plan=plan, user=people["admin"], override_reason="staging proved it")
        plans.advance_rollout(plan=plan, user=people["admin"], override_reason="staging proved it")

    for _, words, _ in channels.told(f"Rollout started: Shop / Production, 10% to {NEW}"):
        assert f"dana started the rollout: 10% of requests now go to {NEW}, observed for 24 h 0 min." in words
    for _, words, _ in channels.told(f"Rollout advanced: Shop / Production, 50% to {NEW}"):
        assert f"dana advanced the rollout: 50% of requests now go to {NEW}." in words
    for _, words, _ in channels.told(f"Rollout completed: Shop / Production now runs {NEW}"):
        assert f"dana completed the rollout: every request now goes to {NEW}." in words
    assert {link for _, _, link in channels.messages()} == {plan_link(plan)}
    types = [hook["payload"]["type"] for hook in channels.signed.received]
    assert types == ["rollout.started", "rollout.advanced", "rollout.advanced", "rollout.completed"]


def test_a_rollback_says_who_rolled_back_why_and_what_runs_now(shop, channels, plan, sent):
    _, _, people = shop
    with sent():
        plan = approved(plan, people)
        plans.start_rollout(plan=plan, user=people["admin"])
    channels.clear()

    with sent():
        plans.roll_back(plan=plan, user=people["admin"], reason="Customers report blurry faces.")

    for _, words, link in channels.told(f"Rolled back: Shop / Production is back on {OLD}"):
        assert f"Rolled back by dana at 10%: Customers report blurry faces. Every request goes to {OLD} again." in words
        assert link == plan_link(plan)


def test_a_shutdown_alert_links_to_planning_the_migration(shop, channels, sent):
    Snapshot.objects.filter(provider=simulator_provider(), name=OLD).update(
        shutdown_on=START.date() + dt.timedelta(days=20),
        replacement=Snapshot.objects.get(provider=simulator_provider(), name=NEW),
    )

    with sent():
        raise_shutdown_alerts(email=False)

    for _, words, link in channels.told(f"Shop / Production: {OLD} shuts down within 30 days"):
        assert "This environment's policy pins it." in words
        assert f"Migrate to its replacement {NEW} with a migration plan." in words
        assert link == f"{SITE}/projects/shop/migrations/new/?environment=production&to={NEW}"


def test_a_newly_announced_shutdown_date_is_told(shop, channels, sent):
    pack = read_pack("simulator")
    for entry in pack["snapshots"]:
        if entry["name"] == OLD:
            entry["shutdown_on"] = "2027-03-01"

    with sent():
        load_pack(pack, actor=SYSTEM)

    for _, words, link in channels.told(f"Shop / Production: {OLD} shuts down on 2027-03-01"):
        assert "announced it." in words
        assert link.startswith(f"{SITE}/projects/shop/migrations/new/?environment=production")


def test_an_alias_move_is_told_to_the_projects_following_it(shop, channels, sent):
    project, _, _ = shop
    make_environment(project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW])

    with sent():
        repoint_alias(
            provider=simulator_provider(),
            name="sora-2",
            snapshot=Snapshot.objects.get(provider=simulator_provider(), name=OLD),
            actor=SYSTEM,
            reason="Back to the October snapshot.",
        )

    for _, words, link in channels.told(f"Shop: alias sora-2 now points at {OLD} (was {NEW})"):
        assert "Development follows this alias. Back to the October snapshot." in words
        assert link == f"{SITE}/catalog/#aliases-heading"
    assert Alias.objects.get(name="sora-2", provider=simulator_provider()).snapshot.name == OLD
