"""Two cache backends: Django's Redis cache, reusing its clients, and its file cache, with atomic counters.

Django's Redis cache with one redis-py client per connection pool, not one per call, and a counter
that takes one command.

Django's `RedisCacheClient.get_client()` wraps the pool in a new `redis.Redis`
for every cache operation, and building one copies redis-py's table of ~170
response callbacks. The gateway reads the shared state token on every request,
so this cost was paid on every API call (see bench/README.md). redis-py clients
are safe to share between threads; the pools and their connections are Django's
as before.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache as DjangoFileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.files import locks
from redis.commands.core import Script

# Count one on KEYS[1], created to expire ARGV[1] seconds later, and read KEYS[2] if there is one.
COUNT_AND_READ = b"""
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
if #KEYS > 1 then return {count, redis.call('GET', KEYS[2])} end
return {count}
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
    _count_and_read = Script(None, COUNT_AND_READ)  # sent by its SHA-1 once Redis knows it, else in full

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def count(self, key: str, *, expires_in: int, reading: str | None = None) -> tuple[int, Any]:
        """Count one on `key` and return the count, and the value under `reading` (None if absent or not asked).

        One atomic command (a Lua script) and one round trip: a counter is created expiring `expires_in` seconds
        later, so it goes away on its own. Django's `incr` alone takes two round trips and sets no expiry.
        """
        keys = [self.make_and_validate_key(key)]
        if reading is not None:
            keys.append(self.make_and_validate_key(reading))
        client = self._cache.get_client(keys[0], write=True)
        count, *read = self._count_and_read(keys=keys, args=[expires_in], client=client)
        value = read[0] if read else None
        return count, (None if value is None else self._cache._serializer.loads(value))


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
