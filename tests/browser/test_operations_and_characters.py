"""Operations in the policy editor, characters on the project page, and moving to another provider, in a browser."""

import pytest
from playwright.sync_api import expect

from governance.catalog.services import load_pack, read_pack
from governance.projects.models import Role
from tests.browser.conftest import screenshot, sign_in
from tests.factories import NEW, SYSTEM, make_character, make_environment, make_member, make_project

pytestmark = pytest.mark.browser


@pytest.fixture
def studio():
    project = make_project("studio", name="Studio")
    staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])
    make_environment(project, "production", default_model=NEW, allowed_snapshots=[NEW])
    make_character(staging, name="Mona")
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    return {"admin": make_member(project, Role.ADMIN)}


def test_an_admin_forbids_characters_and_sees_the_policy_say_so(page, studio):
    sign_in(page, studio["admin"].username)
    page.goto("/projects/studio/")
    staging = page.locator("#environment-staging")
    expect(staging.get_by_role("table", name="Characters made in Staging")).to_contain_text("Mona")
    expect(page.locator("#environment-production")).to_contain_text("No characters yet")
    screenshot(page, "project-page-characters")

    page.get_by_role("link", name="Edit policy of Staging").click()
    for operation in ("create", "remix", "edit", "extend"):
        page.get_by_label(f"{operation} (", exact=False).check()
    page.get_by_label("Why does the policy change?").fill("No cameos of real people in staging")
    page.get_by_role("button", name="Save as a new revision").click()

    expect(page.get_by_role("heading", name="Saved as revision 2")).to_be_visible()
    expect(page.locator(".diff-table")).to_contain_text("Allowed operations")
    screenshot(page, "policy-editor-operations")


def test_an_admin_moves_an_environment_to_another_provider(page, studio):
    sign_in(page, studio["admin"].username)
    page.goto("/projects/studio/environments/staging/policy/")
    page.get_by_label("Snapshots come from the catalog of").select_option("simulator-lumen")
    page.get_by_role("button", name="Use this provider").click()
    expect(page.get_by_text("moves Staging from Built-in simulator to Lumen")).to_be_visible()

    page.get_by_label("Pinned snapshot or followed alias").select_option("lumen-1-2026-06-01")
    page.get_by_label("lumen-1-2026-06-01", exact=True).check()
    page.get_by_label("Why does the policy change?").fill("Try the other provider")
    page.get_by_role("button", name="Save as a new revision").click()

    expect(page.get_by_role("heading", name="Saved as revision 2")).to_be_visible()
    expect(page.locator(".policy-words").first).to_contain_text("lumen-1-2026-06-01")
    screenshot(page, "policy-editor-other-provider")
