"""Forms whose answer shows a secret once (a new API key, a webhook's signing secret).

The secret is never stored, so the answer to the POST cannot be a redirect: it is the page
itself. Reloading that page makes the browser send the form again, and a double click sends it
twice at once; either would silently make a second key or a second webhook (each event then
delivered twice). Every such form carries a one-time token. The first sending claims it in the
shared cache with an atomic add (Redis, or the embedded file cache under its lock), so of two
sendings, however close, one makes the thing and the other learns what it made (0 while it is
still being made) and makes nothing.
"""

import logging
import secrets

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

REMEMBERED_SECONDS = 24 * 3600  # long enough for any reload of the page that showed the secret


def new_token() -> str:
    return secrets.token_urlsafe(16)


def claim(request: HttpRequest, kind: str, token: str) -> int | None:
    """None when this is the form's first sending (go ahead and make it); else what the first one made.

    If the cache cannot be reached the sending goes ahead: a second key beats no key at all.
    """
    if not token:
        return None
    key = _key(request, kind, token)
    try:
        if cache.add(key, 0, timeout=REMEMBERED_SECONDS):
            return None
        return cache.get(key, 0)
    except Exception:
        logger.warning("sent-form cache unavailable; not checking for a form sent twice", exc_info=True)
        return None


def remember(request: HttpRequest, kind: str, token: str, made_pk: int) -> None:
    if token:
        cache.set(_key(request, kind, token), made_pk, timeout=REMEMBERED_SECONDS)


def release(request: HttpRequest, kind: str, token: str) -> None:
    """The first sending made nothing (refused input, an error): the same form may be sent again."""
    if token:
        cache.delete(_key(request, kind, token))


def _key(request: HttpRequest, kind: str, token: str) -> str:
    return f"governance:sent-form:{request.user.pk}:{kind}:{token}"
