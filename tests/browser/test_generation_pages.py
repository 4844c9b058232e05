"""The generation log, a generation's detail and the playground, in a real browser."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from governance.projects.models import Role
from governance.simulator.models import SimulatorProfile
from tests.browser.conftest import screenshot, sign_in
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, make_environment, make_member, make_project, revise

pytestmark = pytest.mark.browser


def test_filtering_the_log_updates_the_rows_and_the_address(page):
    project = make_project("shop")
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    staging = make_environment(project, "staging")
    now = dt.datetime.now(dt.UTC)
    for minutes in range(12):
        make_generation(
            production,
            resolved_snapshot=OLD,
            prompt=f"product shot number {minutes}",
            created_at=now - dt.timedelta(minutes=minutes),
            completed_at=now - dt.timedelta(minutes=minutes) + dt.timedelta(seconds=40),
        )
    refused = make_generation(
        staging,
        status="refused",
        requested_model="sora-2",
        resolved_snapshot="",
        error_code="alias_not_allowed",
        prompt="a lighthouse at dusk",
    )
    make_generation(staging, status="in_progress", progress=45, resolved_snapshot=NEW, prompt="a cat on a sofa")
    user = make_member(project, Role.VIEWER)

    sign_in(page, user.username)
    page.get_by_role("link", name="Generations", exact=True).click()
    expect(page.get_by_role("heading", name="Generations")).to_be_visible()
    expect(page.get_by_label(re.compile("Progress of video_"))).to_be_visible()
    screenshot(page, "generation-log")

    page.get_by_label("Status").select_option("refused")
    expect(page).to_have_url(re.compile(r"status=refused"))
    rows = page.locator("#generation-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alias_not_allowed")

    page.get_by_label("Status").select_option("")
    page.get_by_label("Prompt contains").fill("lighthouse")
    page.get_by_label("Prompt contains").press("Enter")
    expect(page).to_have_url(re.compile(r"q=lighthouse"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(refused.prompt)
    screenshot(page, "generation-log-filtered")

    page.get_by_label("Prompt contains").fill("nothing like this")
    page.get_by_label("Prompt contains").press("Enter")
    expect(page.get_by_text("No generations match these filters.")).to_be_visible()
    screenshot(page, "generation-log-empty")


@pytest.mark.live
def test_a_developer_runs_a_generation_from_the_playground_and_watches_it_finish(live_stack, page):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4.0, failure_rate=0)
    project = make_project("shop")
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse")
    developer = make_member(project, Role.DEVELOPER)

    sign_in(page, developer.username)
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    screenshot(page, "playground")
    page.get_by_label("Model").select_option("sora-2")
    page.get_by_label("Prompt").fill("a lighthouse at dusk, slow pan")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("moving alias")
    screenshot(page, "playground-refused")

    page.get_by_label("Model").select_option(OLD)
    page.get_by_label("Seconds").select_option("4")
    page.get_by_label("Size").select_option("1280x720")
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(re.compile(r"/generations/video_\w+/$"))
    progress = page.locator("#live-progress progress")
    expect(progress).to_be_visible()
    screenshot(page, "generation-running")

    expect(page.get_by_role("heading", name="Video", exact=True)).to_be_visible(timeout=45_000)
    expect(progress).to_have_attribute("value", "100")
    expect(page.locator("#live-progress")).to_contain_text("Completed")
    expect(page.locator("video source")).to_have_attribute("src", re.compile(r"/content/video/$"))
    expect(page.get_by_alt_text(re.compile("Thumbnail of"))).to_be_visible()
    thumbnail = page.request.get(page.get_by_alt_text(re.compile("Thumbnail of")).get_attribute("src"))
    assert thumbnail.ok and thumbnail.headers["content-type"].startswith("image/") and thumbnail.body()
    page.wait_for_load_state("networkidle")
    screenshot(page, "generation-detail")

    page.get_by_role("link", name="Generations", exact=True).click()
    expect(page.locator("#generation-rows tr")).to_have_count(2)
    screenshot(page, "generation-log-after-playground")


def test_a_long_revision_reason_wraps_inside_its_column(page):
    project = make_project("shop")
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    revision = revise(
        production,
        reason=(
            "Migration plan #3: 25% of requests to sora-2-2025-12-08 (canary) after the comparison run "
            "reviewed_by_approver_and_admin_on_both_snapshots_side_by_side, while production is pinned."
        ),
    )
    generation = make_generation(production, resolved_snapshot=OLD, policy_revision=revision)
    user = make_member(project, Role.VIEWER)
    page.set_viewport_size({"width": 1300, "height": 900})

    sign_in(page, user.username)
    page.goto(f"/generations/{generation.video_id}/")
    reason = page.locator("dt:text-is('Revision reason') + dd")
    expect(reason).to_contain_text("production is pinned")
    screenshot(page, "generation-detail-long-reason")

    model_column = page.locator("section[aria-labelledby='model-heading']").bounding_box()
    run_column = page.locator("section[aria-labelledby='run-heading']").bounding_box()
    reason_box = reason.bounding_box()
    assert model_column["x"] + model_column["width"] <= run_column["x"]
    assert reason_box["x"] + reason_box["width"] <= model_column["x"] + model_column["width"] + 0.5
    assert page.evaluate("document.documentElement.scrollWidth") <= 1300
