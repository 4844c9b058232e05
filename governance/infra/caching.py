"""Process-local memory for hot-path reads, invalidated across processes.

Auth, policy and catalog lookups on the gateway come from memory. Any change to
the rows behind them bumps a shared token in Django's cache (Redis in production,
a file cache in the embedded default); every process compares its token once per
request and forgets everything it holds when the token moved. One cheap cache
read per request instead of several queries, and a revoked key is refused on its
next request on every web node and worker.
"""

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

STATE_TOKEN_KEY = "governance:state-token"

_lock = threading.Lock()
_memory: dict[Any, Any] = {}
_token: str | None = None
_request = threading.local()


def _current_token() -> str | None:
    try:
        token = cache.get(STATE_TOKEN_KEY)
        if token is None:
            token = uuid.uuid4().hex
            cache.add(STATE_TOKEN_KEY, token, timeout=None)
            token = cache.get(STATE_TOKEN_KEY)
        return token
    except Exception:  # the shared cache is down: serve from the database, uncached
        logger.warning("state cache unavailable; reading governance state from the database", exc_info=True)
        return None


@contextlib.contextmanager
def one_state_read() -> Iterator[None]:
    """Read the shared token once for a whole request, however many lookups it makes."""
    _request.token = _current_token()
    _request.active = True
    try:
        yield
    finally:
        _request.active = False


def remembered(key: Any, load: Callable[[], Any], *, keep_none: bool = True) -> Any:
    """Return the value remembered under `key`, loading it once per state token."""
    global _token
    token = _request.token if getattr(_request, "active", False) else _current_token()
    if token is None:
        return load()
    with _lock:
        if token != _token:
            _memory.clear()
            _token = token
        if key in _memory:
            return _memory[key]
    value = load()
    if value is None and not keep_none:
        return value
    with _lock:
        if _token == token:
            _memory[key] = value
    return value


def forget_everything() -> None:
    """Drop this process's memory (tests call it between cases)."""
    global _token
    with _lock:
        _memory.clear()
        _token = None


def _bump() -> None:
    try:
        cache.set(STATE_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("could not publish a governance state change", exc_info=True)
    forget_everything()


def governance_state_changed(**_: Any) -> None:
    """Signal receiver: invalidate now, and again once the change is committed.

    The second bump covers a reader that reloaded between the first bump and the
    commit and so remembered the old rows under the new token.
    """
    _bump()
    transaction.on_commit(_bump)
