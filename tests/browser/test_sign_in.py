"""Signing in and the overview, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from governance.projects.models import Role
from tests.browser.conftest import screenshot, sign_in
from tests.factories import OLD, make_environment, make_member, make_project

pytestmark = pytest.mark.browser


def test_a_member_signs_in_and_sees_the_overview_of_their_projects(page):
    project = make_project("shop")
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse")
    user = make_member(project, Role.VIEWER)

    sign_in(page, user.username)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text(OLD).first).to_be_visible()
    screenshot(page, "overview")


def test_a_wrong_password_says_so_on_the_page(page):
    make_member(make_project("shop"), Role.VIEWER)
    sign_in(page, "nobody", "wrong")
    expect(page.get_by_role("alert")).to_be_visible()
    screenshot(page, "login-refused")
