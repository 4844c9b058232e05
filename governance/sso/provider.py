"""The OpenID provider we sign in with: its settings, and its endpoints from discovery.

OpenID Connect Discovery 1.0 (https://openid.net/specs/openid-connect-discovery-1_0.html):
`<issuer>/.well-known/openid-configuration` names the endpoints, and its `issuer` must be the
configured one exactly. Fetched on the first sign-in, not at start, so the product starts (and
password sign-in works) while the provider is away; kept for an hour per process.
"""

import threading
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_KEPT_SECONDS = 3600


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read, or does not describe the configured issuer."""


@dataclass(frozen=True)
class ProviderEndpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


def sso_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


_discovered: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


def endpoints() -> ProviderEndpoints:
    """The provider's endpoints: those set one by one in settings, the others from discovery."""
    explicit = {
        "authorization_endpoint": settings.OIDC_AUTHORIZATION_ENDPOINT,
        "token_endpoint": settings.OIDC_TOKEN_ENDPOINT,
        "userinfo_endpoint": settings.OIDC_USERINFO_ENDPOINT,
        "jwks_uri": settings.OIDC_JWKS_URI,
    }
    document = {} if all(explicit.values()) else _discovery(settings.OIDC_ISSUER)
    values = {name: value or document.get(name, "") for name, value in explicit.items()}
    missing = [name for name in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not values[name]]
    if missing:
        raise ProviderUnavailable(f"The provider names no {', '.join(missing)}.")
    return ProviderEndpoints(issuer=document.get("issuer", settings.OIDC_ISSUER), **values)


def _discovery(issuer: str) -> dict:
    with _lock:
        kept = _discovered.get(issuer)
        if kept and time.monotonic() - kept[0] < DISCOVERY_KEPT_SECONDS:
            return kept[1]
    url = issuer + DISCOVERY_PATH
    try:
        response = httpx.get(url, timeout=settings.OIDC_TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(f"The provider's discovery document ({url}) could not be read: {error}") from error
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ProviderUnavailable(f"The discovery document at {url} describes issuer {document.get('issuer')!r}.")
    with _lock:
        _discovered[issuer] = (time.monotonic(), document)
    return document


def forget_discovery() -> None:
    with _lock:
        _discovered.clear()
