"""Requests per minute per API key, counted in Django's shared cache in fixed one-minute windows.

Every web node counts in the same cache (Redis in production), so the limit holds across nodes. A process takes
its counts from the shared counter in leases, a slice of the key's minute at a time, and spends them request by
request from memory: a busy key costs one command per slice, not one per request.
- A limit under 2 × LEASE_SHARE requests per minute is leased one count at a time: exact, as counting each request.
- A larger one is leased a LEASE_SHARE-th of the limit at a time. Nothing is let through past the limit; a key may
  be refused up to one slice early for each other process holding a part-spent slice (0.1 % of the limit per
  process), and the slices left at the end of a minute are not carried over.
- A lease is for one minute and one limit: a changed limit applies from the next request.

A slice is taken with one atomic command on Redis (`cache_backends.RedisCache.take`: the counter created with its
expiry, then added to, never past the limit), under a file lock on the embedded file cache (`FileBasedCache.take`,
atomic across `make run`'s processes). A refused request takes nothing, so a flood does not use up a raised limit.
"""

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

from django.core.cache import caches

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
COUNTER_SECONDS = 2 * WINDOW_SECONDS  # a window's counter outlives it, never by much
KEY_PREFIX = "governance:rate"
LEASE_SHARE = 1000


@dataclass
class Lease:
    window: int
    per_minute: int
    left: int


_leases: dict[str, Lease] = {}  # a subject's counter key -> the counts this process holds unspent in its window
_leases_lock = threading.Lock()


def seconds_until_allowed(*, api_key_id: int, per_minute: int, now: float | None = None) -> int | None:
    """Count one request for this key; None if it is within the limit, else the seconds until the window ends.

    A limit of 0 counts nothing. If the cache cannot be reached the request is let
    through: throttling must not take the gateway down with the cache.
    """
    return _seconds_until_allowed(str(api_key_id), per_minute, now)


def seconds_until_callback_allowed(*, generation_id: int, per_minute: int, now: float | None = None) -> int | None:
    """Count one provider callback for this generation, as `seconds_until_allowed` counts a key's requests."""
    return _seconds_until_allowed(f"callback:{generation_id}", per_minute, now)


def lease_size(per_minute: int) -> int:
    """How many counts a process takes from the shared counter at a time for this limit."""
    return max(1, per_minute // LEASE_SHARE)


def forget_leases() -> None:
    """Drop the counts this process holds (tests call it between cases)."""
    with _leases_lock:
        _leases.clear()


def _seconds_until_allowed(subject: str, per_minute: int, now: float | None) -> int | None:
    if per_minute <= 0:
        return None
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    if _spend_one(f"{KEY_PREFIX}:{subject}:{window}", window, per_minute):
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def _spend_one(key: str, window: int, per_minute: int) -> bool:
    """Spend one count of `key`'s window from this process's lease, taking a new lease when it is spent."""
    with _leases_lock:
        lease = _leases.get(key)
        if lease is not None and lease.per_minute == per_minute and lease.left > 0:
            lease.left -= 1
            return True
    try:
        taken = caches["default"].take(key, up_to=lease_size(per_minute), limit=per_minute, expires_in=COUNTER_SECONDS)
    except Exception:
        logger.warning("rate-limit cache unavailable; letting the request through", exc_info=True)
        return True
    if taken == 0:
        return False
    with _leases_lock:
        for ended in [held for held, lease in _leases.items() if lease.window < window]:
            del _leases[ended]
        lease = _leases.get(key)
        if lease is not None and lease.per_minute == per_minute:  # another thread's lease, taken meanwhile
            lease.left += taken - 1
        else:
            _leases[key] = Lease(window=window, per_minute=per_minute, left=taken - 1)
    return True


def _after_fork_in_child() -> None:
    """A forked child (a gunicorn or Celery worker) spends none of its parent's counts: they are the parent's."""
    global _leases_lock
    _leases_lock = threading.Lock()
    _leases.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
