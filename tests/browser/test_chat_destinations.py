"""An admin connects a Slack channel and a Teams channel in the browser; their URLs are never shown again."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from governance.demo.users import DEMO_PASSWORD
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstWXYZ"
TEAMS_URL = "https://prod-42.westeurope.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/invoke?sig=SeCrEtSiG9"


def test_an_admin_connects_slack_and_teams_channels_whose_urls_are_never_shown_again(page):
    call_command("seed_demo", stdout=io.StringIO())
    sign_in(page, "admin", DEMO_PASSWORD)
    page.goto("/projects/launch-videos/webhooks/")

    for kind, url, channel in [
        ("Slack incoming webhook", SLACK_URL, "#video-launches"),
        ("Microsoft Teams (Workflows webhook)", TEAMS_URL, "Launch approvals"),
    ]:
        page.get_by_label("Kind").select_option(label=kind)
        page.get_by_label("Endpoint URL").fill(url)
        page.get_by_label("Description").fill(channel)
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#messages")).to_contain_text(f"{kind} added: project events now reach it as messages.")

    endpoints = page.get_by_role("list").filter(has_text="#video-launches")
    expect(endpoints).to_contain_text("Slack incoming webhook https://hooks.slack.com/…WXYZ — #video-launches")
    expect(endpoints).to_contain_text("https://prod-42.westeurope.logic.azure.com:443/…SiG9 — Launch approvals")
    expect(page.get_by_label("Endpoint URL")).to_have_value("")
    screenshot(page, "chat-destinations")
    content = page.content()
    assert "abcdefghijklmnopqrst" not in content and "SeCrEtSiG9" not in content
    assert "whsec_" not in content
