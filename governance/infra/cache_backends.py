"""Two cache backends: Django's Redis cache, reusing its clients, and its file cache, with atomic counters.

Django's Redis cache with one redis-py client per connection pool, not one per call, a counter
that takes one command, and Redis pub/sub for the state token (`state_listener`).

Django's `RedisCacheClient.get_client()` wraps the pool in a new `redis.Redis`
for every cache operation, and building one copies redis-py's table of ~170
response callbacks. The gateway then read the shared state token on every request,
so this cost was paid on every API call (see bench/README.md). redis-py clients
are safe to share between threads; the pools and their connections are Django's
as before.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache as DjangoFileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.files import locks
from redis import Redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.commands.core import Script
from redis.retry import Retry

# Count ARGV[2] on KEYS[1], created to expire ARGV[1] seconds later.
COUNT = b"""
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return redis.call('INCRBY', KEYS[1], ARGV[2])
"""


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[object, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    _count = Script(None, COUNT)  # sent by its SHA-1 once Redis knows it, else in full

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    @property
    def location(self) -> tuple[str, ...]:
        """The Redis server(s) this cache is on: processes configured alike share it."""
        return tuple(self._servers)

    def count(self, key: str, *, expires_in: int, by: int = 1) -> int:
        """Count `by` on `key` and return the new count.

        One atomic command (a Lua script) and one round trip: a counter is created expiring `expires_in` seconds
        later, so it goes away on its own. Django's `incr` alone takes two round trips and sets no expiry.
        """
        key = self.make_and_validate_key(key)
        return self._count(keys=[key], args=[expires_in, by], client=self._cache.get_client(key, write=True))

    def publish(self, channel: str, message: str) -> None:
        """Publish `message` on the Redis channel `channel` (not a cache key: no prefix, no version)."""
        self._cache.get_client(write=True).publish(channel, message)

    def subscription(self, channel: str, *, client_name: str) -> PubSub:
        """A subscription to `channel` on a connection of its own, named `client_name` in Redis's CLIENT LIST.

        Close it when done. The connection is not the cache's pool's: it is held for as long as it listens. It is
        not remade behind the caller's back (redis-py would, and subscribe again): a lost connection raises, so
        the caller knows it may have missed a message.
        """
        options = {**self._cache._pool_options, "client_name": client_name, "retry": Retry(NoBackoff(), 0)}
        pool = self._cache._pool_class.from_url(self._servers[0], max_connections=1, **options)
        pubsub = Redis(connection_pool=pool).pubsub()
        pubsub.subscribe(channel)
        return pubsub


class FileBasedCache(DjangoFileBasedCache):
    """Django's file cache, with `add` and `incr` atomic across the processes sharing its directory.

    Django's are a read then a write: two processes counting one key at once both write n + 1, so
    the per-key rate limit on the embedded defaults (`make run`: web and worker processes over one
    cache directory) let more through than its limit. Here both run under an exclusive lock on one
    file beside the entries (an entry itself cannot be locked: every write replaces its file).
    """

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._counting():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        with self._counting():
            return super().incr(key, delta, version)

    @contextmanager
    def _counting(self) -> Iterator[None]:
        self._createdir()
        with open(os.path.join(self._dir, "counters.lock"), "ab") as lock_file:
            locks.lock(lock_file, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(lock_file)
