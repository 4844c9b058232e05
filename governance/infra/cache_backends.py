"""Two cache backends: Django's Redis cache, reusing its clients, and its file cache, with atomic counters.

Django's Redis cache with one redis-py client per connection pool, not one per call.

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

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache as DjangoFileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.files import locks


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
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient


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
