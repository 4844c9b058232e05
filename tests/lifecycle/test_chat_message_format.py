"""Slack and Teams messages keep to each platform's documented format, whatever people typed into a plan."""

import json

import pytest

from governance.lifecycle.chat import ChatMessage, encoded, slack_message, teams_message
from tests.lifecycle.chat_receivers import TEAMS_MESSAGE_LIMIT, slack_problems, slack_sdk_problems, teams_problems

LINK = "https://governance.example.com/projects/shop/migrations/7/"


def message(**changes) -> ChatMessage:
    fields = {
        "title": "Review requested: Shop / Production, sora-2-2025-10-06 → sora-2-2025-12-08",
        "text": "alice submitted the plan for review. Waiting for sign-offs:",
        "link": LINK,
        "link_label": "Review the plan",
        "facts": (("Project", "Shop"), ("Environment", "Production"), ("Reason", "Better motion")),
        "items": ("“Business acceptance”: 2 more sign-offs, needs the approver role or above",),
        "by": "alice",
    }
    return ChatMessage(**{**fields, **changes})


# What people may type: Slack's control characters, a mention, Markdown, and far too much of it, in characters
# that take three bytes each in UTF-8.
TYPED = "Ship it <!channel> & <@U024BE7LH> *now* [click](https://evil.example) " + "移行" * 6_000


@pytest.mark.parametrize(
    "written",
    [
        message(),
        message(text=TYPED, title=TYPED[:300], by=TYPED[:200], link_label=TYPED),
        message(facts=tuple((f"Fact {n} {TYPED[:50]}", TYPED) for n in range(15))),
        message(items=tuple(f"Step {n}: {TYPED[:400]}" for n in range(40))),
        message(facts=(), items=(), by=""),
    ],
    ids=["usual", "long-and-marked-up", "many-long-facts", "many-steps", "bare"],
)
def test_every_message_keeps_to_both_platforms_formats(written):
    slack = slack_message(written)
    teams = teams_message(written)

    assert slack_problems(slack) == []
    assert slack_sdk_problems(slack) == []
    assert teams_problems(teams, size=len(encoded(teams))) == []


def test_what_people_typed_cannot_mention_a_channel_or_make_a_link_in_slack():
    slack = slack_message(message(text="Ship it <!channel> & <https://evil.example|click>"))

    section = slack["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in section
    assert "<!channel>" not in json.dumps(slack)
    assert f"<{LINK}|Review the plan>" in section  # our own link stays a link


def test_a_slack_message_has_a_fallback_text_a_section_fields_a_context_and_a_link_button():
    slack = slack_message(message())

    assert slack["text"].startswith("Review requested: Shop / Production") and LINK in slack["text"]
    assert [block["type"] for block in slack["blocks"]] == ["section", "section", "context", "actions"]
    assert slack["blocks"][1]["fields"][0]["text"] == "*Project*\nShop"
    assert slack["blocks"][2]["elements"][0]["text"] == "By alice · Snapshot governance"
    button = slack["blocks"][3]["elements"][0]
    assert (button["text"]["text"], button["url"]) == ("Review the plan", LINK)


def test_a_teams_message_is_one_adaptive_card_with_facts_and_a_link():
    teams = teams_message(message())

    card = teams["attachments"][0]["content"]
    assert teams["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"].startswith("Review requested: Shop / Production")
    assert {"title": "By", "value": "alice"} in card["body"][-1]["facts"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Review the plan", "url": LINK}]


# The checkers find what the platforms refuse: a checker that finds nothing proves nothing.


def test_the_slack_checker_finds_what_slack_documents_as_wrong():
    good = slack_message(message())
    too_many = {**good, "blocks": good["blocks"] * 13}
    unescaped = json.loads(json.dumps(good).replace("alice", "<!channel> & co"))
    long_section = json.loads(json.dumps(good))
    long_section["blocks"][0]["text"]["text"] = "x" * 3001
    no_fallback = {"blocks": good["blocks"]}
    long_button = json.loads(json.dumps(good))
    long_button["blocks"][3]["elements"][0]["text"]["text"] = "x" * 76
    wrong_text = json.loads(json.dumps(good))
    wrong_text["blocks"][3]["elements"][0]["text"]["type"] = "mrkdwn"

    assert slack_problems(too_many) == ["blocks must be a list of 1 to 50 blocks"]
    assert any("unescaped" in problem for problem in slack_problems(unescaped))
    assert "block 0: section text: text of 1 to 3000 characters" in slack_problems(long_section)
    assert slack_problems(no_fallback) == ["no fallback text"]
    assert "block 3: button text: text of 1 to 75 characters" in slack_problems(long_button)
    assert "block 3: a button's text must be plain_text" in slack_problems(wrong_text)
    assert slack_sdk_problems(long_button)  # Slack's own SDK agrees


def test_the_teams_checker_holds_the_card_to_the_official_schema():
    good = teams_message(message())
    host_specific = json.loads(json.dumps(good))
    host_specific["attachments"][0]["content"]["msteams"] = {"width": "Full"}
    misspelt = json.loads(json.dumps(good))
    misspelt["attachments"][0]["content"]["body"][0]["type"] = "TextBlok"
    newer_than_declared = json.loads(json.dumps(good))  # a 1.5 property on a card that says 1.4
    newer_than_declared["attachments"][0]["content"]["body"][0]["style"] = "heading"
    not_a_message = {**good, "type": "card"}

    assert teams_problems(good, size=1000) == []
    assert teams_problems(host_specific, size=1000)
    assert teams_problems(misspelt, size=1000)
    assert teams_problems(newer_than_declared, size=1000)
    assert teams_problems(not_a_message, size=1000) == ['the "type" field must be "message"']
    assert teams_problems(good, size=TEAMS_MESSAGE_LIMIT + 1) == [f"{TEAMS_MESSAGE_LIMIT + 1} bytes: over Teams' 28 KB"]
