"""A migration of production in a real browser: author, four-eyes sign-off, staged rollout, rollback."""

import datetime as dt

import pytest
import time_machine
from playwright.sync_api import expect

from governance.generations import worker
from governance.generations.models import Generation
from governance.policies.selectors import current_revision
from governance.projects.models import Role
from governance.simulator.models import SimulatorProfile
from tests.browser.conftest import screenshot, sign_in
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.browser

START = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def demo():
    """The demo's shape: production pinned and protected; lead and approver approve, admin administers."""
    project = make_project("demo", name="Demo")
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    for username, role in [("lead", Role.APPROVER), ("approver", Role.APPROVER), ("admin", Role.ADMIN)]:
        make_member(project, role, user=make_user(username))
    return production


def switch_user(page, username: str) -> None:
    page.get_by_role("button", name="Log out").click()
    sign_in(page, username)


def sign(page, step: str, comment: str) -> None:
    form = page.get_by_role("form", name=f"Sign off {step}")
    form.get_by_label("Approve").check()
    form.get_by_label("Comment").fill(comment)
    form.get_by_role("button", name="Sign off").click()
    expect(page.get_by_role("form", name=f"Sign off {step}")).to_have_count(0)


def finish_comparison_runs(clock) -> None:
    """No worker runs beside this test: take the comparison runs to their end here, on the simulator in-process."""
    runs = list(Generation.objects.filter(purpose=Generation.PURPOSE_COMPARISON).values_list("pk", flat=True))
    with use_transport(simulator_transport()):
        for run in runs:
            while worker.advance(run).countdown is not None:
                clock.shift(1)


def add_evidence(page, step: str, text: str) -> None:
    card = page.locator("article.step", has=page.get_by_role("heading", name=step))
    card.locator("summary", has_text="Edit evidence").click()
    card.get_by_label("Evidence").fill(text)
    card.get_by_role("button", name="Save evidence").click()
    expect(page.locator("article.step", has=page.get_by_role("heading", name=step))).to_contain_text(text)


def test_a_plan_is_signed_off_by_others_rolled_out_in_stages_and_rolled_back(page, demo):
    with time_machine.travel(START, tick=True) as clock:
        sign_in(page, "lead")
        page.goto("/projects/demo/")
        page.get_by_role("link", name="Start a migration of Production").click()
        page.get_by_label("Move to snapshot").select_option(NEW)
        page.get_by_label("Why").fill("December snapshot: better motion, same price")
        page.get_by_role("button", name="Create draft plan").click()
        expect(page.get_by_test_id("plan-state")).to_have_text("Draft")
        page.get_by_role("button", name="Run the prompt set on both snapshots").click()
        expect(page.locator("#comparison-heading + form + p")).to_contain_text("3 unjudged")
        expect(page.locator("#messages")).to_have_text("Started 3 comparison pairs; they finish in the background.")
        expect(page.locator(".verdict-form")).to_have_count(0)  # a pair is judged once both its runs have finished
        finish_comparison_runs(clock)
        page.get_by_role("button", name="Record these figures as the benchmark step's evidence").click()
        benchmark = page.locator("article.step", has=page.get_by_role("heading", name="Performance benchmark"))
        expect(benchmark.locator(".evidence")).not_to_contain_text("none yet")
        add_evidence(page, "Business acceptance", "Product reviewed the December samples")
        add_evidence(page, "Gradual rollout plan", "10/50/100, 24 h each, rollback owner: lead")
        page.get_by_role("button", name="Submit for review").click()
        expect(page.get_by_test_id("plan-state")).to_have_text("In review")

        page.get_by_role("form", name="Try to sign off Prompt compatibility tests yourself").get_by_role(
            "button"
        ).click()
        expect(page.get_by_test_id("refusal")).to_contain_text("someone else must sign it off")
        screenshot(page, "migration-self-approval-refused")
        plan_url = page.url

        switch_user(page, "approver")
        expect(page.get_by_test_id("approvals-count")).to_have_text("1")
        page.get_by_role("link", name="Approvals").click()
        page.get_by_role("link", name=f"Demo / Production: {OLD} → {NEW}").click()
        page.locator(".verdict-form").first.get_by_role("button", name="Equivalent").click()
        expect(page.locator("#step-heading-1 ~ .evidence, .step").first).to_contain_text("1 equivalent")
        screenshot(page, "migration-comparison")
        compatibility = page.locator("article.step", has=page.get_by_role("heading", name="Prompt compatibility tests"))
        expect(compatibility).to_contain_text("You judged this plan's comparison pairs")  # their verdict is evidence
        sign(page, "Performance benchmark", "Latency and cost within budget")
        sign(page, "Business acceptance", "Product accepts")

        switch_user(page, "admin")
        page.goto(plan_url)
        expect(page.get_by_test_id("approvals-count")).to_have_text("1")
        sign(page, "Prompt compatibility tests", "Checked the approver's verdict against the videos")
        sign(page, "Business acceptance", "Second pair of eyes: accepted")
        sign(page, "Gradual rollout plan", "10/50/100 with 24 h windows")
        expect(page.get_by_test_id("plan-state")).to_have_text("Approved")
        expect(page.get_by_test_id("approvals-count")).to_have_count(0)  # nothing awaits the admin any more
        screenshot(page, "migration-approved")

        page.get_by_role("button", name="Start rollout at 10%").click()
        expect(page.get_by_test_id("rollout-percent")).to_contain_text("10% of requests go to")
        assert current_revision(demo).canary_percent == 10

        page.get_by_role("button", name="Advance to 50%").click()
        expect(page.get_by_test_id("refusal")).to_contain_text("observation window has")

        clock.shift(dt.timedelta(hours=24, minutes=1))
        page.reload()
        page.get_by_role("button", name="Advance to 50%").click()
        expect(page.get_by_test_id("rollout-percent")).to_contain_text("50% of requests go to")
        screenshot(page, "migration-rolling-out")

        page.get_by_label("Rollback reason").fill("Support tickets about flicker")
        page.get_by_role("button", name=f"Roll back to {OLD}").click()
        expect(page.get_by_test_id("plan-state")).to_have_text("Rolled back")
        expect(page.get_by_test_id("timeline")).to_contain_text("Support tickets about flicker")
        screenshot(page, "migration-rolled-back")
        revision = current_revision(demo)
        assert (revision.default_model, revision.canary_percent) == (OLD, 0)


@pytest.mark.live
def test_comparison_runs_show_their_results_without_a_reload(live_stack, page, demo):
    """The author starts the prompt set and watches each run finish on the plan page, as on a generation's page."""
    for snapshot in (OLD, NEW):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=2.0, failure_rate=0)
    sign_in(page, "lead")
    page.goto(f"/projects/demo/migrations/new/?environment=production&to={NEW}")
    page.get_by_label("Why").fill("December snapshot: better motion, same price")
    page.get_by_role("button", name="Create draft plan").click()
    page.get_by_role("button", name="Run the prompt set on both snapshots").click()
    comparison = page.locator("section", has=page.get_by_role("heading", name="Prompt compatibility: comparison runs"))
    expect(comparison.locator("tbody .status")).to_have_count(6)
    screenshot(page, "migration-comparison-running")

    expect(comparison.locator("tbody .status-completed")).to_have_count(6, timeout=45_000)
    expect(comparison.get_by_role("link", name="Watch")).to_have_count(6)
    benchmark = page.locator("section", has=page.get_by_role("heading", name="Performance benchmark"))
    expect(benchmark.get_by_role("table", name="Comparison runs")).to_contain_text("100%")
    screenshot(page, "migration-comparison-finished")
