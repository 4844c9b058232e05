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
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


@contextmanager
def making(request: HttpRequest, kind: str, token: str) -> Iterator[Callable[[int], None]]:
    """Around making what a claimed form asks for: `made(pk)` keeps the claim for a reload to find; leaving
    without it (refused input, an error) releases the token, so the corrected form may be sent again."""
    kept: list[int] = []
    try:
        yield kept.append
    finally:
        if token:
            _settle(_key(request, kind, token), kept)


def _settle(key: str, kept: list[int]) -> None:
    try:
        if kept:
            cache.set(key, kept[0], timeout=REMEMBERED_SECONDS)
        else:
            cache.delete(key)
    except Exception:  # as in `claim`: what was made stands; only the guard against a resend is lost
        logger.warning("sent-form cache unavailable; a resent form may make a second one", exc_info=True)


def _key(request: HttpRequest, kind: str, token: str) -> str:
    return f"governance:sent-form:{request.user.pk}:{kind}:{token}"
