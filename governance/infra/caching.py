"""Process-local memory for hot-path reads, invalidated across processes.

Auth, policy and catalog lookups on the gateway come from memory. Any change to
the rows behind them replaces a shared token in Django's cache (Redis in
production, a file cache in the embedded default) once it is committed; every
process compares its token once per request and forgets everything it holds when
the token moved.
- On Redis the new token is also pushed to every process (`state_token`): a request
  reads nothing to learn it, and a revoked key is refused on every web node and worker
  once the push arrives, about a millisecond after the commit.
- On the file cache, and on Redis while a process's subscription is not up, the
  process reads the token once per request (one cache read instead of several
  queries), and a revoked key is refused on its next request.

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
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from governance.infra import state_token
from governance.infra.cache_backends import RedisCache
from governance.infra.models import StateChange

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_memory: dict[Any, tuple[Any, float]] = {}  # key -> (value, when it was loaded, on the monotonic clock)
_token: str | None = None
_unannounced = False  # this process committed a change it could not announce
_request = threading.local()


def current_token() -> str | None:
    """The shared token: as last pushed to this process, else read from the cache (None if it is away)."""
    if _unannounced:  # a change this process committed while the cache was away (it reads the database anyway)
        publish_state()
    backend = caches["default"]
    if isinstance(backend, RedisCache) and (pushed := state_token.pushed(backend)) is not None:
        return pushed
    try:
        return state_token.read(backend)
    except Exception:  # the shared cache is down: serve from the database, uncached
        logger.warning("state cache unavailable; reading governance state from the database", exc_info=True)
        forget_everything()  # what it finds once it is back may be the token of before a change
        return None


@contextlib.contextmanager
def one_state_read() -> Iterator[None]:
    """Learn the shared token once for a whole request, however many lookups it makes."""
    _request.token = current_token()
    _request.active = True
    try:
        yield
    finally:
        _request.active = False


def remembered(key: Any, load: Callable[[], Any], *, keep_none: bool = True) -> Any:
    """Return the value remembered under `key`, loading it once per state token and STATE_MEMORY_MAX_SECONDS."""
    global _token
    token = _request.token if getattr(_request, "active", False) else current_token()
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
            state_token.publish(caches["default"])
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
