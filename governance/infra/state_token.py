"""The shared governance state token: read from the cache, published, and pushed to every process by Redis pub/sub.

A process compares this token with the one its memory was loaded under (`caching`). `publish` sets a new one
and, on Redis, publishes it on the cache's CHANNEL in the same command. Each process subscribes from one daemon
thread, started on its first state read (after gunicorn or Celery forked it), on a connection of its own. While
that thread is subscribed and has heard from Redis within LIVE_SECONDS, `pushed` gives the token it last heard,
and a request sends nothing to Redis to learn whether its memory is current. At any other time (not subscribed
yet, the connection lost, Redis silent) it gives None, and the caller reads the shared token itself, as it did on
every request before.

Nothing published is missed for long:
- after each subscription is confirmed the listener reads the shared token once, so a change announced while it
  was away (or before it started) moves the token it starts from;
- it pings Redis every PING_SECONDS. A connection that stops answering (a half-open socket raises nothing) is no
  longer trusted LIVE_SECONDS after Redis was last heard, and is dropped and made again after RECONNECT_SECONDS: a
  push lost on such a connection delays a change by at most LIVE_SECONDS.

A change is seen by other processes once its push arrives (about a millisecond on one host) rather than on their
very next request; the process that made it forgets at once (caching.governance_state_changed).
"""

import logging
import os
import socket
import threading
import time
import uuid

from django.core.cache.backends.base import BaseCache
from redis.client import PubSub

from governance.infra.cache_backends import RedisCache

logger = logging.getLogger(__name__)

STATE_TOKEN_KEY = "governance:state-token"
CHANNEL = "governance:state"
PING_SECONDS = 1.0
LIVE_SECONDS = 3.0
RECONNECT_SECONDS = 10.0
RETRY_SECONDS = 1.0
IDLE_SECONDS = 60.0  # a listener nobody asked for this long stops (a cache configured away, a test's override)
SUBSCRIBE_TIMEOUT_SECONDS = 5.0


def read(backend: BaseCache) -> str:
    """The shared token, made if the cache has none (emptied or restarted: any new token will do); raises if away.

    On Redis it is read from the primary, where it is written: a replica may not have the latest yet.
    """
    get = backend.get_from_primary if isinstance(backend, RedisCache) else backend.get
    token = get(STATE_TOKEN_KEY)
    if token is None:
        backend.add(STATE_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
        token = get(STATE_TOKEN_KEY)
    return token


def publish(backend: BaseCache) -> None:
    """Replace the shared token, and push the new one to every process listening; raises if the cache is away."""
    token = uuid.uuid4().hex
    if isinstance(backend, RedisCache):
        backend.set_and_publish(STATE_TOKEN_KEY, token, channel=backend.channel(CHANNEL))
    else:
        backend.set(STATE_TOKEN_KEY, token, timeout=None)


class Listener:
    """One subscription to CHANNEL on one Redis, kept up by a daemon thread."""

    def __init__(self, backend: RedisCache) -> None:
        self.backend = backend
        self.failures = 0  # in a row: the first is logged as a warning, the others until it is back as debug
        self.asked_at = time.monotonic()
        self.heard: tuple[str, float] | None = None  # the token, and when Redis was last heard (monotonic)
        self.thread = threading.Thread(target=self._run, name="governance-state-listener", daemon=True)

    def token(self) -> str | None:
        """The token last pushed, while the subscription is known to be alive; else None."""
        self.asked_at = time.monotonic()
        heard = self.heard
        if heard is None or self.asked_at - heard[1] > LIVE_SECONDS:
            return None
        return heard[0]

    def _run(self) -> None:
        while time.monotonic() - self.asked_at < IDLE_SECONDS:
            try:
                self._listen()
            except Exception:
                self.failures += 1
                level = logging.WARNING if self.failures == 1 else logging.DEBUG
                logger.log(level, "state listener lost Redis; reading the state token per request", exc_info=True)
            self.heard = None
            time.sleep(RETRY_SECONDS)
        _forget(self)

    def _listen(self) -> None:
        pubsub = self.backend.subscription(self.backend.channel(CHANNEL), client_name=listener_name())
        try:
            _await_subscription(pubsub)
            token = read(self.backend)
            self.failures = 0
            now = pinged_at = time.monotonic()
            self.heard = (token, now)
            while now - self.asked_at < IDLE_SECONDS:
                message = pubsub.get_message(timeout=PING_SECONDS)
                now = time.monotonic()
                if message is not None:
                    if message["type"] == "message":
                        token = message["data"].decode()
                    elif message["type"] == "subscribe":  # subscribed again, on a new connection: read what was missed
                        token = read(self.backend)
                    self.heard = (token, now)
                elif now - self.heard[1] > RECONNECT_SECONDS:
                    raise ConnectionError(f"Redis did not answer for {RECONNECT_SECONDS:.0f} s")
                if now - pinged_at >= PING_SECONDS:
                    pubsub.ping()
                    pinged_at = now
        finally:
            pubsub.close()


def listener_name() -> str:
    """This process's listener's name in Redis's CLIENT LIST."""
    return f"governance-state-listener-{socket.gethostname()}-{os.getpid()}"


def _await_subscription(pubsub: PubSub) -> None:
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=deadline - time.monotonic())
        if message is not None and message["type"] == "subscribe":
            return
    raise ConnectionError("Redis did not confirm the subscription")


_lock = threading.Lock()
_listeners: dict[tuple[tuple[str, ...], str], Listener] = {}  # by the Redis servers and the channel


def _after_fork_in_child() -> None:
    """A forked child (a gunicorn or Celery worker) has none of its parent's threads: it starts its own listener."""
    global _lock
    _lock = threading.Lock()
    _listeners.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def pushed(backend: RedisCache) -> str | None:
    """The state token pushed by `backend`'s Redis, or None while it cannot be trusted (read it yourself then).

    The first call in a process (or in a forked child) starts its listener; until the listener is subscribed,
    this gives None.
    """
    with _lock:
        listener = _listeners.get(_key(backend))
        if listener is None:
            listener = _listeners[_key(backend)] = Listener(backend)
            listener.thread.start()
    return listener.token()


def _key(backend: RedisCache) -> tuple[tuple[str, ...], str]:
    return backend.location, backend.channel(CHANNEL)


def _forget(listener: Listener) -> None:
    with _lock:
        if _listeners.get(_key(listener.backend)) is listener:
            del _listeners[_key(listener.backend)]
