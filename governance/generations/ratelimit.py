"""Requests per minute per API key, counted in Django's shared cache in fixed one-minute windows.

Every web node counts in the same cache (Redis in production), so the limit holds
across nodes. On Redis the count is one atomic command (`cache_backends.RedisCache.count`:
the counter created with its expiry, then counted); Django's `RedisCache.incr` alone would
take two round trips. The gateway counts with the state token's read when it knows the
key's id (`window_counter`): no round trip of its own. Other caches count with `cache.add`
then `cache.incr`, which is atomic on memcached and on the embedded file cache
(`governance.infra.cache_backends.FileBasedCache` locks around both).
"""

import logging
import math
import time

from django.core.cache import caches

from governance.infra.cache_backends import RedisCache

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
COUNTER_SECONDS = 2 * WINDOW_SECONDS  # a window's counter outlives it, never by much
KEY_PREFIX = "governance:rate"


def seconds_until_allowed(
    *, api_key_id: int, per_minute: int, now: float | None = None, counted: int | None = None
) -> int | None:
    """Count one request for this key; None if it is within the limit, else the seconds until the window ends.

    `counted` is this request's count if it was already taken (`window_counter`, counted with the state token's read).
    A limit of 0 counts nothing. If the cache cannot be reached the request is let
    through: throttling must not take the gateway down with the cache.
    """
    return _seconds_until_allowed(str(api_key_id), per_minute, now, counted)


def seconds_until_callback_allowed(*, generation_id: int, per_minute: int, now: float | None = None) -> int | None:
    """Count one provider callback for this generation, as `seconds_until_allowed` counts a key's requests."""
    return _seconds_until_allowed(f"callback:{generation_id}", per_minute, now)


def _seconds_until_allowed(subject: str, per_minute: int, now: float | None, counted: int | None = None) -> int | None:
    if per_minute <= 0:
        return None
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    if counted is None:
        try:
            counted = _count(_window_key(subject, now))
        except Exception:
            logger.warning("rate-limit cache unavailable; letting the request through", exc_info=True)
            return None
    if counted <= per_minute:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def window_counter(*, api_key_id: int, now: float) -> tuple[str, int]:
    """The cache key counting the key's requests in the window of `now`, and how long that counter lives."""
    return _window_key(str(api_key_id), now), COUNTER_SECONDS


def _window_key(subject: str, now: float) -> str:
    return f"{KEY_PREFIX}:{subject}:{int(now // WINDOW_SECONDS)}"


def _count(key: str) -> int:
    """This window's count for `key`, including the request being counted."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend.count(key, expires_in=COUNTER_SECONDS)[0]
    if backend.add(key, 1, timeout=COUNTER_SECONDS):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.add(key, 1, timeout=COUNTER_SECONDS)
        return 1
