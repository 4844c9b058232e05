"""The Project page and the Policy editor, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from governance.projects.models import Role
from tests.browser.conftest import screenshot, sign_in
from tests.factories import NEW, OLD, make_api_key, make_environment, make_member, make_project, revise

pytestmark = pytest.mark.browser


@pytest.fixture
def shop():
    project = make_project("shop", name="Shop")
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    staging = make_environment(project, "staging", monthly_budget="200.00")
    revise(staging, max_seconds=12, reason="keep staging videos short")
    make_api_key(production)
    make_api_key(staging)
    admin = make_member(project, Role.ADMIN)
    viewer = make_member(project, Role.VIEWER)
    make_member(project, Role.DEVELOPER)
    return {"project": project, "staging": staging, "admin": admin, "viewer": viewer}


def test_an_admin_changes_a_pin_with_a_reason_and_sees_the_revision_and_its_diff(page, shop):
    sign_in(page, shop["admin"].username)
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Shop").click()
    expect(page.get_by_text(f"Production runs only {OLD}; requests for an alias are refused.")).to_be_visible()
    screenshot(page, "project-page")

    page.get_by_role("link", name="Edit policy of Staging").click()
    page.get_by_label("Pinned snapshot or followed alias").select_option(NEW)
    page.get_by_role("button", name="Save as a new revision").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why the policy changes")
    screenshot(page, "policy-editor-invalid")

    page.get_by_label("Pinned snapshot or followed alias").select_option(NEW)
    page.get_by_label("Why does the policy change?").fill("December snapshot passed our prompt tests")
    page.get_by_role("button", name="Save as a new revision").click()

    expect(page.get_by_role("heading", name="Saved as revision 3")).to_be_visible()
    diff = page.locator(".diff-table")
    expect(diff.get_by_role("row", name=re.compile("Pinned snapshot or followed alias"))).to_contain_text(NEW)
    expect(diff).to_contain_text("December snapshot passed our prompt tests")
    screenshot(page, "policy-editor-saved")


def test_any_two_revisions_are_compared_on_the_project_page(page, shop):
    sign_in(page, shop["viewer"].username)
    page.goto("/projects/shop/")
    staging = page.locator("#environment-staging")
    staging.get_by_text("Revision history (2) and comparison").click()
    staging.get_by_label("From revision").select_option("1")
    staging.get_by_label("To revision").select_option("2")
    staging.get_by_role("button", name="Compare").click()

    expect(staging.locator(".diff-table")).to_contain_text("12 seconds")
    expect(page).to_have_url(re.compile(r"/projects/shop/$"))  # swapped in place by htmx
    screenshot(page, "revision-diff")


def test_an_admin_creates_a_key_and_sees_it_once(page, shop):
    sign_in(page, shop["admin"].username)
    page.goto("/projects/shop/")
    page.get_by_role("link", name="Create an API key for Staging").click()
    page.get_by_label("Key name").fill("checkout service")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name="Copy the key now: it is shown only this once")).to_be_visible()
    raw_key = page.get_by_label(re.compile("The new key")).input_value()
    assert raw_key.startswith("sgk_")
    screenshot(page, "api-key-created")

    page.get_by_role("link", name=re.compile("I have copied it")).click()
    expect(page.get_by_role("cell", name="checkout service", exact=True)).to_be_visible()
    assert raw_key not in page.content()


def test_a_protected_environment_is_read_only(page, shop):
    sign_in(page, shop["admin"].username)
    page.goto("/projects/shop/environments/production/policy/")

    expect(page.get_by_role("heading", name="This environment is protected")).to_be_visible()
    expect(page.get_by_role("button", name="Save as a new revision")).to_have_count(0)
    expect(page.get_by_role("link", name="Start a migration")).to_have_attribute(
        "href", "/projects/shop/migrations/new/?environment=production"
    )
    screenshot(page, "policy-editor-protected")


def test_a_viewer_cannot_reach_the_policy_editor(page, shop):
    sign_in(page, shop["viewer"].username)
    page.goto("/projects/shop/")
    expect(page.get_by_role("link", name=re.compile("Edit policy"))).to_have_count(0)

    response = page.goto("/projects/shop/environments/staging/policy/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="This needs the admin role in Shop")).to_be_visible()
    screenshot(page, "policy-editor-forbidden")


def test_an_admin_revokes_a_key_after_confirming(page, shop):
    sign_in(page, shop["admin"].username)
    page.goto("/projects/shop/")
    page.locator("#keys-staging").get_by_role("link", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("heading", name=re.compile("Revoke the key"))).to_be_visible()
    screenshot(page, "api-key-revoke")
    page.get_by_role("button", name="Revoke the key").click()

    expect(page.get_by_text("It no longer works")).to_be_visible()
    expect(page.locator("#keys-staging")).to_contain_text("revoked")


def test_the_last_admin_is_told_why_they_cannot_leave(page, shop):
    sign_in(page, shop["admin"].username)
    page.goto("/projects/shop/")
    page.get_by_role("button", name=f"Remove {shop['admin'].username}").click()

    expect(page.get_by_text("is the last admin of shop")).to_be_visible()
    screenshot(page, "members-last-admin")
