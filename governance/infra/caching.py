"""Process-local memory for hot-path reads, invalidated across processes.

Auth, policy and catalog lookups on the gateway come from memory. Any change to
the rows behind them replaces a shared token in Django's cache (Redis in
production, a file cache in the embedded default) once it is committed; every
process compares its token once per request and forgets everything it holds when
the token moved. One cheap cache read per request instead of several queries, and
a revoked key is refused on its next request on every web node and worker.

A change is never lost while the shared cache is away:
- each change also writes a `StateChange` row in its own transaction, deleted once a
  token was published after it; a row left behind (the cache was away) is announced
  by the next successful cache read of the process that failed, and by beat's
  `publish_state` whatever became of that process;
- a process that cannot read the token reads from the database, uncached, and forgets
  what it remembered, so it reloads once the cache is back, whatever token it finds;
- and no process trusts what it remembered for longer than STATE_MEMORY_MAX_SECONDS.
"""

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction

from governance.infra.cache_backends import RedisCache
from governance.infra.models import StateChange

logger = logging.getLogger(__name__)

STATE_TOKEN_KEY = "governance:state-token"

_lock = threading.Lock()
_memory: dict[Any, tuple[Any, float]] = {}  # key -> (value, when it was loaded, on the monotonic clock)
_token: str | None = None
_unannounced = False  # this process committed a change it could not announce
_request = threading.local()


def _current_token(counting: tuple[str, int] | None = None) -> tuple[str | None, int | None]:
    """The shared token, and the count taken on `counting` with its read (None if it was not taken)."""
    if _unannounced:  # a change this process committed while the cache was away (it reads the database anyway)
        publish_state()
    count = None
    try:
        backend = caches["default"]
        if counting is not None and isinstance(backend, RedisCache):
            key, expires_in = counting
            count, token = backend.count(key, expires_in=expires_in, reading=STATE_TOKEN_KEY)
        else:
            token = cache.get(STATE_TOKEN_KEY)
        if token is None:  # a cache emptied or restarted: any new token will do
            cache.add(STATE_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(STATE_TOKEN_KEY)
    except Exception:  # the shared cache is down: serve from the database, uncached
        logger.warning("state cache unavailable; reading governance state from the database", exc_info=True)
        forget_everything()  # what it finds once it is back may be the token of before a change
        return None, None
    return token, count


@contextlib.contextmanager
def one_state_read(counting: tuple[str, int] | None = None) -> Iterator[int | None]:
    """Read the shared token once for a whole request, however many lookups it makes.

    `counting` is a counter (its cache key, and its lifetime in seconds) to count one on in the same command as
    the token's read, so it costs no round trip of its own (the gateway counts the request against its key's
    rate limit so). What this yields is the count, or None when it was not taken (the cache is not our Redis
    cache, or is away): the caller counts itself.
    """
    _request.token, count = _current_token(counting)
    _request.active = True
    try:
        yield count
    finally:
        _request.active = False


def remembered(key: Any, load: Callable[[], Any], *, keep_none: bool = True) -> Any:
    """Return the value remembered under `key`, loading it once per state token and STATE_MEMORY_MAX_SECONDS."""
    global _token
    token = _request.token if getattr(_request, "active", False) else _current_token()[0]
    if token is None:
        return load()
    now = time.monotonic()
    with _lock:
        if token != _token:
            _memory.clear()
            _token = token
        if key in _memory:
            value, loaded_at = _memory[key]
            if now - loaded_at < settings.STATE_MEMORY_MAX_SECONDS:
                return value
    value = load()
    if value is None and not keep_none:
        return value
    with _lock:
        if _token == token:
            _memory[key] = (value, now)
    return value


def forget_everything() -> None:
    """Drop this process's memory (tests call it between cases)."""
    global _token
    with _lock:
        _memory.clear()
        _token = None


def publish_state() -> bool:
    """Announce every change not announced yet with a new token; False while the cache is away.

    The changes are read before the token is published, so each one deleted here committed
    before a token that every process will see.
    """
    global _unannounced
    changes = list(StateChange.objects.values_list("pk", flat=True))
    if changes:
        try:
            cache.set(STATE_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:
            _unannounced = True
            logger.warning(
                "could not announce %s governance state change(s); they are announced once the cache answers",
                len(changes),
                exc_info=True,
            )
            return False
        StateChange.objects.filter(pk__in=changes).delete()
    _unannounced = False
    return True


def _announce_change() -> None:
    forget_everything()
    publish_state()


def governance_state_changed(**_: Any) -> None:
    """Signal receiver: note the change with it, forget now, and announce it once it is committed.

    Until the commit, other processes keep the state of before, which is still the committed
    one; a reader that reloads between the commit and the announcement finds the new token
    on its next request and reloads again. A change rolled back takes its note with it.
    """
    StateChange.objects.create()
    forget_everything()
    transaction.on_commit(_announce_change, robust=True)  # committed already: a failure here is beat's to mend
