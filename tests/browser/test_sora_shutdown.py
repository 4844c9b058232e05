"""The Sora 2 shutdown as a user meets it: every environment on the `openai-sora-2` pack flagged, a path to migrate."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from governance.demo.users import DEMO_PASSWORD
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

SORA_ENVIRONMENTS = ["Development", "Staging", "Production"]


def test_every_environment_on_the_sora_2_pack_is_flagged_with_a_path_to_migrate(page):
    call_command("seed_demo", stdout=io.StringIO())
    sign_in(page, "lead", DEMO_PASSWORD)

    problems = page.get_by_role("alert").filter(has_text="need attention")
    expect(problems).to_contain_text("3 environments need attention")
    for environment in SORA_ENVIRONMENTS:
        expect(problems).to_contain_text(f"Launch videos / {environment}")
    # The overview's own box says it; the site-wide banner says it on the other pages.
    expect(page.get_by_role("status").filter(has_text="shutting down or shut down")).to_have_count(0)
    launch_row = page.locator("table.matrix tbody tr", has_text="Launch videos")
    expect(launch_row.get_by_test_id("shutdown-badge")).to_have_count(4)  # development allows both snapshots
    calm_row = page.locator("table.matrix tbody tr").filter(has=page.get_by_role("link", name="Demo", exact=True))
    expect(calm_row).to_have_count(1)
    expect(calm_row.get_by_test_id("shutdown-badge")).to_have_count(0)  # the simulator's snapshots run on
    screenshot(page, "sora-2-shutdown-overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Generations").click()
    banner = page.get_by_role("status").filter(has_text="shutting down or shut down")
    expect(banner).to_contain_text("3 environments of yours depend on snapshots")
    for environment in SORA_ENVIRONMENTS:
        expect(banner).to_contain_text(f"Launch videos / {environment}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Shutdowns").click()
    # OpenAI's own section (Azure OpenAI has a snapshot of the same name, retired on another day).
    heading = page.get_by_role("heading", name="sora-2-2025-10-06 OpenAI", exact=True)
    impact = page.locator("section.impact").filter(has=heading)
    expect(impact).to_contain_text("Shut down since 2026-09-24")
    expect(impact).to_contain_text("Replacement: none named")
    expect(impact.locator("tr.impact-row")).to_have_count(2)  # production pins it, development allows it
    screenshot(page, "sora-2-shutdown-impact")

    production = impact.locator("tr.impact-row[data-environment='launch-videos/production']")
    expect(production).to_contain_text("Requests on it are refused since 2026-09-24")
    production.get_by_label("Migrate to").select_option(label="sora-2-2025-12-08 (Built-in simulator)")
    production.get_by_role("button", name="Plan migration").click()
    expect(page).to_have_url(
        re.compile(r"/projects/launch-videos/migrations/new/\?environment=production&to=simulator%3Asora-2-2025-12-08$")
    )
    # The form keeps the choice: the simulator's snapshot, not OpenAI's shut-down one of the same name.
    expect(page.get_by_label("Move to snapshot")).to_have_value("simulator:sora-2-2025-12-08")
    expect(page.locator("#id_to_snapshot option:checked")).to_have_text(
        "sora-2-2025-12-08 (Built-in simulator, another provider)"
    )


def test_the_project_page_says_what_happened_and_how_to_recover(page):
    call_command("seed_demo", stdout=io.StringIO())
    sign_in(page, "viewer", DEMO_PASSWORD)

    page.goto("/projects/launch-videos/")
    production = page.locator("#environment-production")
    alert = production.get_by_role("alert")
    expect(alert).to_contain_text("sora-2-2025-10-06 has shut down (2026-09-24)")
    expect(alert).to_contain_text("refused with snapshot_shut_down")
    # A viewer cannot plan a migration: told so, and whom to ask, instead of a link to a 403.
    expect(alert.get_by_role("link", name="Plan the migration")).to_have_count(0)
    expect(alert).to_contain_text(
        "Planning a migration needs the developer role in Launch videos: ask its admin (admin)."
    )
    screenshot(page, "sora-2-shutdown-project")

    page.goto("/lifecycle/")
    expect(page.get_by_role("button", name="Plan migration")).to_have_count(0)
    expect(page.get_by_role("link", name="See the impact", exact=True)).to_be_visible()


def test_an_admin_adds_a_webhook_and_copies_its_secret_once(page):
    call_command("seed_demo", stdout=io.StringIO())
    sign_in(page, "admin", DEMO_PASSWORD)

    page.goto("/projects/launch-videos/")
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/lifecycle")
    page.get_by_label("Description").fill("on-call channel")
    page.get_by_role("button", name="Add webhook").click()

    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$"))
    expect(page.get_by_role("list").filter(has_text="hooks.example.com")).to_contain_text("on-call channel")
    screenshot(page, "webhooks")
    page.goto("/projects/launch-videos/webhooks/")
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    expect(page.get_by_role("list").filter(has_text="hooks.example.com")).to_be_visible()
