"""Google's error shape and its rules, shared by the Gemini API and Vertex AI adapters.

Both answer a failed call with `{"error": {"code", "message", "status", "details": [...]}}`, the
details being google.rpc messages (RetryInfo, QuotaFailure, ErrorInfo). One quota rule holds for both:
a per-day quota or a project without billing is `quota_exceeded` and final (trying again today cannot
help); any other RESOURCE_EXHAUSTED is a per-minute limit, retried after Google's `retryDelay`. One
safety classifier reads both a refused create and a finished job, so a refusal is `content_filtered`
whenever Google says it.
"""

import re

import httpx

from governance.generations.upstream import (
    CONTENT_FILTERED,
    QUOTA_EXCEEDED,
    UpstreamError,
    retry_after_seconds,
    without_secrets,
)

# ErrorInfo reasons that mean the project cannot spend now, whatever the per-minute limits say.
BILLING_REASONS = {"BILLING_DISABLED", "BILLING_NOT_ACTIVE"}
# The Gemini API's refusal codes (FinishReason / BlockedReason names, as interaction errors carry them).
SAFETY_CODES = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"}
# Veo's documented safety filter support codes ("… Support codes: 15236754"), one per harmful category.
# https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/responsible-ai-and-usage-guidelines
VEO_SAFETY_SUPPORT_CODES = {
    "58061214", "17301594", "29310472", "15236754", "64151117", "42237218", "62263041", "57734940",
    "22137204", "74803281", "29578790", "42876398", "89371032", "49114662", "63429089", "72817394",
    "60599140", "35561574", "35561575", "90789179", "43188360", "78610348", "61493863", "56562880",
    "32635315",
}  # fmt: skip
SUPPORT_CODES = re.compile(r"support codes?:\s*([\d,\s]+)", re.IGNORECASE)
# Only when no code says it: words Google's refusals use ("violates our Responsible AI practices").
SAFETY_WORDS = (
    "responsible ai",
    "safety filter",
    "safety polic",
    "safety reasons",
    "usage guidelines",
    "violate our policies",
    "blocked by safety",
    "prohibited content",
    "sensitive words",
)
# Prepaid credits run out (the Gemini API's paid tier): final, like a per-day quota.
CREDITS_SPENT_WORDS = ("prepayment", "credits are depleted", "credit balance")


def google_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """A Google error answer in our terms: safety refusal, spent quota, rate limit or Google's own status."""
    error = error_body(response)
    message = str(error.get("message") or f"Google answered HTTP {response.status_code}.")[:1000]
    status = str(error.get("status") or "")
    details = [item for item in error.get("details") or [] if isinstance(item, dict)]
    retry_delay = next((item.get("retryDelay") for item in of_type(details, "RetryInfo")), None)
    code, retryable = (status or "upstream_error")[:64], None
    if quota_spent(status == "RESOURCE_EXHAUSTED" or response.status_code == 429, message, details):
        code, retryable = QUOTA_EXCEEDED, False
    elif response.status_code == 400 and is_safety_refusal(message, codes=error_reasons(details)):
        code = CONTENT_FILTERED
    return UpstreamError(
        without_secrets(message, *secrets),
        status=response.status_code,
        code=code,
        retry_after=retry_after_seconds(retry_delay) or retry_after_seconds(response.headers.get("Retry-After")),
        retryable=retryable,
    )


def error_body(response: httpx.Response) -> dict:
    """The `error` member of Google's answer, or {} when the answer is not Google's shape."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {"message": str(error)}


def of_type(details: list[dict], kind: str) -> list[dict]:
    """The details of one google.rpc kind ("type.googleapis.com/google.rpc.RetryInfo" is "RetryInfo")."""
    return [item for item in details if str(item.get("@type", "")).endswith("." + kind)]


def error_reasons(details: list[dict]) -> list[str]:
    return [str(item.get("reason") or "") for item in of_type(details, "ErrorInfo")]


def quota_spent(exhausted: bool, message: str, details: list[dict]) -> bool:
    """Billing off, a per-day quota or prepaid credits spent: nothing will change before tomorrow.

    A RESOURCE_EXHAUSTED on a per-minute quota is not spent: it passes within Google's retryDelay.
    """
    if BILLING_REASONS & set(error_reasons(details)):
        return True
    if not exhausted:
        return False
    violations = [v for d in of_type(details, "QuotaFailure") for v in d.get("violations") or [] if isinstance(v, dict)]
    quota_names = [f"{v.get('quotaId', '')} {v.get('description', '')}".lower() for v in violations]
    if any("perday" in name or "per day" in name for name in quota_names):
        return True
    return any(word in message.lower() for word in CREDITS_SPENT_WORDS)


def is_safety_refusal(message: str, *, codes: list[str] = ()) -> bool:
    """Whether Google refused on safety grounds: a refusal code, a Veo safety support code, or, only when
    neither is there, the words Google's refusals use."""
    if any(str(code).upper() in SAFETY_CODES for code in codes):
        return True
    cited = SUPPORT_CODES.search(message)
    if cited and VEO_SAFETY_SUPPORT_CODES & set(re.findall(r"\d{8}", cited.group(1))):
        return True
    return any(word in message.lower() for word in SAFETY_WORDS)
