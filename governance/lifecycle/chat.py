"""Events in words for people, as the chat tools people talk in take them: Slack and Microsoft Teams.

A `ChatMessage` says who did what, where (project, environment, snapshots) and links to the page to act on.
Each destination kind renders it in its platform's documented format:

Slack incoming webhooks take a message payload, `text` plus Block Kit `blocks`; `text` is the fallback
shown in notifications (https://api.slack.com/messaging/webhooks,
https://api.slack.com/reference/block-kit/blocks). Text in `mrkdwn` must have &, < and > escaped
(https://api.slack.com/reference/surfaces/formatting#escaping), which also keeps a plan's reason from
mentioning @channel. Limits: 50 blocks a message; section text 3000 characters, at most 10 fields of
2000 each; context at most 10 elements; a button's text 75 characters, its url 3000
(https://api.slack.com/reference/block-kit/blocks#section, #context, #actions,
https://api.slack.com/reference/block-kit/block-elements#button).

Microsoft Teams takes `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <an Adaptive Card>}]}`
(https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook),
from a Workflows "When a Teams webhook request is received" trigger (which replaces the retired
connectors' incoming webhooks and takes Adaptive Cards) as from an incoming webhook; a message is at most
28 KB (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
The card is Adaptive Card 1.4: TextBlock, FactSet and Action.OpenUrl (https://adaptivecards.io/explorer/),
no host-specific properties, so it validates against the official schema.
"""

import json
import re
from dataclasses import dataclass

from django.conf import settings

PRODUCT = "Snapshot governance"
ADAPTIVE_CARD_VERSION = "1.4"
# What a person wrote (a plan's reason, a sign-off's comment) is cut to this length in a message.
WRITTEN_TEXT_LIMIT = 500
# Every part of a message is cut to these lengths (`_bounded`), so that whatever it holds a message stays
# within Slack's per-block limits and below Teams' 28 KB: about 7,000 characters at most, 3 bytes each at
# worst in UTF-8 (`encoded`).
TITLE_LIMIT, TEXT_LIMIT, BY_LIMIT, LABEL_LIMIT = 150, 800, 80, 75
MAX_FACTS, FACT_NAME_LIMIT, FACT_VALUE_LIMIT = 8, 40, 250
MAX_ITEMS, ITEM_LIMIT = 12, 200
SLACK_SECTION_TEXT = 3000
SLACK_URL = 3000


@dataclass(frozen=True)
class ChatMessage:
    """An event as people read it. `link` is an absolute URL (see `absolute_url`)."""

    title: str
    text: str
    link: str
    link_label: str
    facts: tuple[tuple[str, str], ...] = ()
    items: tuple[str, ...] = ()
    by: str = ""

    @property
    def fallback(self) -> str:
        """The message in one line, for notifications and for clients that show no cards."""
        return f"{self.title}: {self.text.rstrip(':')} {self.link}"


def absolute_url(path: str) -> str:
    """`path` under SITE_URL: a link that works from a chat message."""
    return settings.SITE_URL.rstrip("/") + path if path.startswith("/") else path


def written(text: str) -> str:
    """What a person wrote, cut to WRITTEN_TEXT_LIMIT characters."""
    return clip(" ".join(text.split()), WRITTEN_TEXT_LIMIT)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def encoded(payload: dict) -> bytes:
    """A chat message's body as sent: UTF-8 JSON, so no character costs more than its own bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _bounded(message: ChatMessage) -> ChatMessage:
    """The message with every part cut to its limit, whatever its producer put in."""
    facts = tuple(
        (clip(name, FACT_NAME_LIMIT), clip(value, FACT_VALUE_LIMIT)) for name, value in message.facts[:MAX_FACTS]
    )
    return ChatMessage(
        title=clip(message.title, TITLE_LIMIT),
        text=clip(message.text, TEXT_LIMIT),
        link=message.link,
        link_label=clip(message.link_label, LABEL_LIMIT),
        facts=facts,
        items=tuple(clip(item, ITEM_LIMIT) for item in message.items[:MAX_ITEMS]),
        by=clip(message.by, BY_LIMIT),
    )


# Slack


def slack_message(message: ChatMessage) -> dict:
    """An incoming-webhook payload: the fallback `text`, then section, fields, context and a link button."""
    message = _bounded(message)
    heading = f"*{_mrkdwn(message.title)}*\n{_mrkdwn(message.text)}"
    bullets = "".join(f"\n• {_mrkdwn(item)}" for item in message.items)
    link = f"\n<{message.link}|{_mrkdwn(message.link_label)}>" if len(message.link) <= SLACK_URL else ""
    blocks = [_slack_section(_clip_mrkdwn(heading + bullets, SLACK_SECTION_TEXT - len(link)) + link)]
    if message.facts:  # bounded facts stay within a field's 2000 characters, even escaped
        fields = [_mrkdwn_text(f"*{_mrkdwn(name)}*\n{_mrkdwn(value)}") for name, value in message.facts]
        blocks.append({"type": "section", "fields": fields})
    context = f"By {_mrkdwn(message.by)} · {PRODUCT}" if message.by else PRODUCT
    blocks.append({"type": "context", "elements": [_mrkdwn_text(context)]})
    if len(message.link) <= SLACK_URL:
        button = {
            "type": "button",
            "action_id": "open",
            "text": {"type": "plain_text", "text": message.link_label},
            "url": message.link,
        }
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": _clip_mrkdwn(_mrkdwn(message.fallback), SLACK_SECTION_TEXT), "blocks": blocks}


def _slack_section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn_text(text)}


def _mrkdwn_text(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _mrkdwn(text: str) -> str:
    """Text shown as written: Slack's three control characters escaped, so nothing becomes a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip_mrkdwn(text: str, limit: int) -> str:
    """`clip` that never leaves half an escape (`&am…`) behind."""
    if len(text) <= limit:
        return text
    return re.sub(r"&[a-z]*$", "", text[: limit - 1]).rstrip() + "…"


# Microsoft Teams


def teams_message(message: ChatMessage) -> dict:
    """A message with one Adaptive Card: title, text, the items as a list, the facts, and a link button."""
    message = _bounded(message)
    body = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": message.text, "wrap": True},
    ]
    if message.items:  # a Markdown list; Adaptive Cards separate its lines with \r
        items = "\r".join(f"- {item}" for item in message.items)
        body.append({"type": "TextBlock", "text": items, "wrap": True})
    facts = list(message.facts) + ([("By", message.by)] if message.by else [])
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": message.fallback,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": message.link_label, "url": message.link}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def render(kind: str, message: ChatMessage) -> dict:
    """The body a destination of `kind` ("slack" or "teams") is sent."""
    return {"slack": slack_message, "teams": teams_message}[kind](message)
