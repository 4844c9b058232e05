"""The catalog's comparison, the usage charts and the overview's problems first, in a real browser."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.catalog.models import Snapshot
from governance.catalog.services import load_pack, read_pack, repoint_alias
from governance.generations.models import Generation
from governance.projects.models import Role
from tests.browser.conftest import screenshot, sign_in
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, SYSTEM, make_environment, make_member, make_project, simulator_provider

pytestmark = pytest.mark.browser

PRO = "sora-2-pro-2025-10-06"


def test_comparing_two_snapshots_swaps_in_their_differences(page):
    provider = simulator_provider()
    load_pack(read_pack("openai-sora-2"), actor=SYSTEM)  # deprecated and shut-down snapshots for the timeline
    repoint_alias(
        provider=provider,
        name="sora-2",
        snapshot=Snapshot.objects.get(provider=provider, name=OLD),
        actor=SYSTEM,
        reason="storyboards broke our renders; back to the October snapshot",
    )
    user = make_member(make_project("shop"), Role.VIEWER)
    sign_in(page, user.username)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
    screenshot(page, "catalog")

    page.get_by_label("First snapshot").select_option(label=f"{OLD} (Built-in simulator)")
    page.get_by_label("Second snapshot").select_option(label=f"{PRO} (Built-in simulator)")

    comparison = page.locator("#comparison")
    expect(comparison.get_by_role("table")).to_contain_text(f"{OLD} compared with {PRO}")
    expect(page).to_have_url(re.compile(rf"[?&]b=simulator%3A{PRO}"))  # swapped in by htmx, the address bar follows
    sizes = comparison.get_by_role("row").filter(has_text="Sizes")
    expect(sizes).to_contain_text("differs")
    expect(sizes.locator("mark").first).to_have_text("1024x1792")
    expect(comparison.get_by_role("row").filter(has_text="Price at 1920x1080")).to_contain_text("not offered")
    screenshot(page, "catalog-comparison")


def test_usage_charts_show_the_seeded_generations(page):
    project = make_project("shop")
    environment = make_environment(project, "production", allowed_snapshots=[OLD, NEW])
    now = timezone.now()
    statuses = [Generation.Status.COMPLETED] * 4 + [Generation.Status.FAILED, Generation.Status.REFUSED]
    for hours_ago in range(0, 22, 3):
        for index, status in enumerate(statuses):
            created_at = now - dt.timedelta(hours=hours_ago, minutes=index)
            make_generation(
                environment,
                status=status,
                created_at=created_at,
                completed_at=created_at + dt.timedelta(seconds=30 + 15 * index + hours_ago),
                estimated_cost=Decimal("0.40") * (index + 1),
                resolved_snapshot="" if status == Generation.Status.REFUSED else (OLD if index % 2 else NEW),
            )
    user = make_member(project, Role.VIEWER)
    sign_in(page, user.username)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    expect(page.get_by_role("img", name="Latency (p50 and p95)")).to_be_visible()
    expect(page.get_by_role("table").first).to_contain_text("shop / production")
    screenshot(page, "usage")

    page.get_by_label("Snapshot").select_option(OLD)
    expect(page.locator(".usage-groups")).not_to_contain_text(NEW)
    expect(page).to_have_url(re.compile(rf"snapshot={OLD}"))


def test_the_overview_shows_a_shut_down_pin_first(page):
    Snapshot.objects.filter(provider=simulator_provider(), name=OLD).update(
        deprecated_on=dt.date(2025, 11, 1), shutdown_on=timezone.now().date() - dt.timedelta(days=3)
    )
    calm, troubled = make_project("aaa-calm", name="Calm app"), make_project("zzz-troubled", name="Troubled app")
    make_environment(calm, "production", default_model=NEW)
    make_environment(troubled, "production", default_model=OLD, allowed_snapshots=[OLD], protected=True)
    make_environment(troubled, "development", default_model="sora-2", alias_requests="follow")
    user = make_member(calm, Role.ADMIN)
    make_member(troubled, Role.VIEWER, user=user)

    sign_in(page, user.username)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("1 environment needs attention")
    expect(alert).to_contain_text(f"Troubled app / Production is pinned to {OLD}, which shut down")
    expect(page.locator("table.matrix tbody tr").first).to_contain_text("Troubled app")
    expect(page.get_by_role("list", name="Your roles")).to_contain_text("zzz-troubled: viewer")
    screenshot(page, "overview-problems")


def test_the_snapshot_tables_fit_a_1280_pixel_window_with_dates_on_one_line(page):
    simulator_provider()
    load_pack(read_pack("openai-sora-2"), actor=SYSTEM)  # the widest table: long size and feature lists
    user = make_member(make_project("shop"), Role.VIEWER)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, user.username)

    page.goto("/catalog/")

    openai = page.locator("table.snapshots", has=page.locator("caption", has_text="OpenAI"))
    expect(openai).to_have_count(1)
    for table in page.locator("table.snapshots").all():
        scroll, visible = table.evaluate("t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
        assert scroll <= visible, "the table hides columns behind a horizontal scroll"
    released = openai.locator("td.date").first
    expect(released).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    assert released.evaluate(LINES_OF_TEXT) == 1
    openai.scroll_into_view_if_needed()
    screenshot(page, "catalog-1280")


LINES_OF_TEXT = """cell => {
    const text = document.createRange();
    text.selectNodeContents(cell);
    return text.getClientRects().length;
}"""
