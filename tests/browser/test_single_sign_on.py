"""Single sign-on in Chromium, against a real OpenID provider (tests/oidc/provider.mjs, the certified
oidc-provider package): off to the provider, its sign-in and consent pages, back with a role that a group
grants; the group removed at the provider; signed in again, the role is gone and the sign-off no longer counts."""

import re

import pytest
from playwright.sync_api import expect

from governance.projects.models import Role
from governance.snapshot_migrations import services as plans
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_migration_plan import sign
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user
from tests.snapshot_migrations.conftest import add_evidence

pytestmark = pytest.mark.browser


@pytest.fixture
def plan_in_review():
    """shop's production, and a plan for it in review, written by lead (an approver)."""
    project = make_project("shop", name="Shop")
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    lead = make_member(project, Role.APPROVER, user=make_user("lead"))
    make_member(project, Role.ADMIN)
    plan = plans.create_plan(environment=production, to_snapshot=NEW, reason="Better motion", author=lead)
    add_evidence(plan, {})
    plans.submit_for_review(plan=plan, user=lead)
    return plan


def sign_in_with_the_provider(page) -> None:
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Local IdP").click()


def test_a_group_grants_a_role_through_the_provider_and_loses_it_when_the_group_is_removed(
    page, oidc_provider, settings, plan_in_review
):
    settings.OIDC_ROLE_MAP = "video-approvers=shop:approver"
    oidc_provider.add_user("alice", groups=["video-approvers"])
    plan_url = f"/projects/shop/migrations/{plan_in_review.pk}/"

    sign_in_with_the_provider(page)
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/interaction/"))
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    screenshot(page, "sso-provider-sign-in")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Allow access?")).to_be_visible()
    screenshot(page, "sso-provider-consent")
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_text("Signed in as")).to_contain_text("alice")
    expect(page.get_by_role("list", name="Your roles")).to_contain_text("shop: approver")
    page.goto(plan_url)
    sign(page, "Prompt compatibility tests", "Same look on every prompt")
    screenshot(page, "sso-signed-in-with-a-role")

    oidc_provider.set_groups("alice", [])
    page.get_by_role("button", name="Log out").click()
    sign_in_with_the_provider(page)  # the provider remembers alice and her consent: straight back

    expect(page.get_by_text("Signed in as")).to_contain_text("alice")
    expect(page.get_by_role("list", name="Your roles")).to_contain_text("no projects yet")
    assert page.goto(plan_url).status == 404
    screenshot(page, "sso-role-gone")

    page.goto("/")
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "lead")
    page.goto(plan_url)
    expect(page.locator(".sign-off-reset")).to_contain_text("alice approved (no longer counts: alice left shop)")


def test_the_provider_refusing_the_sign_in_is_a_message_on_the_sign_in_page(page, oidc_provider):
    oidc_provider.add_user("alice", groups=[])

    sign_in_with_the_provider(page)
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Deny").click()

    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator("#messages")).to_contain_text("The sign-in provider refused the sign-in")
