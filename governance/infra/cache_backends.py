"""Two cache backends: Django's Redis cache, reusing its clients, and its file cache, with atomic counters.

Both take counts from a counter up to a limit atomically (`take`, the rate limit's leases). The Redis
cache has one redis-py client per connection pool, not one per call, takes in one command, and
carries the state token's pub/sub (`state_token`).

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
from functools import cached_property

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache as DjangoFileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.files import locks
from redis import Redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.commands.core import Script
from redis.connection import parse_url
from redis.retry import Retry

# Take up to ARGV[2] of the ARGV[3] counts KEYS[1] allows, its counter created to expire ARGV[1] seconds later.
TAKE = b"""
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local taken = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - tonumber(redis.call('GET', KEYS[1])))
if taken <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], taken)
return taken
"""
# Set KEYS[1] to ARGV[1] and publish ARGV[3] on the channel ARGV[2]: both or neither.
SET_AND_PUBLISH = b"""
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
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
    _take = Script(None, TAKE)  # sent by its SHA-1 once Redis knows it, else in full
    _set_and_publish = Script(None, SET_AND_PUBLISH)

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    @property
    def location(self) -> tuple[str, ...]:
        """The Redis server(s) this cache is on: processes configured alike share it."""
        return tuple(self._servers)

    def take(self, key: str, *, up_to: int, limit: int, expires_in: int) -> int:
        """Add up to `up_to` to the counter `key`, never past `limit`; how much was added (0: the limit is reached).

        One atomic command (a Lua script) and one round trip: a counter is created expiring `expires_in` seconds
        later, so it goes away on its own. Django's `incr` alone takes two round trips and sets no expiry.
        """
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        return self._take(keys=[key], args=[expires_in, up_to, limit], client=client)

    def get_from_primary(self, key: str, default: object = None) -> object:
        """`get` from the server writes go to (LOCATION's first), never from a replica that may lag behind it.

        Django reads from a replica when LOCATION names several servers; a value that must be the latest
        written (the state token) is read here instead.
        """
        key = self.make_and_validate_key(key)
        value = self._cache.get_client(key, write=True).get(key)
        return default if value is None else self._cache._serializer.loads(value)

    @cached_property
    def database(self) -> int:
        """The number of the Redis database the cache writes to."""
        return parse_url(self._servers[0]).get("db", 0)

    def channel(self, name: str) -> str:
        """A pub/sub channel for `name`, as distinct as a cache key: Redis's channels are not per database."""
        return self.make_and_validate_key(f"{name}:db{self.database}")

    def set_and_publish(self, key: str, value: str, *, channel: str) -> None:
        """Set `key` to `value`, kept until replaced, and publish `value` on `channel`, in one atomic command."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        self._set_and_publish(keys=[key], args=[self._cache._serializer.dumps(value), channel, value], client=client)

    def subscription(self, channel: str, *, client_name: str) -> PubSub:
        """A subscription to `channel` on a connection of its own, named `client_name` in Redis's CLIENT LIST.

        Close it when done. The connection is not the cache's pool's: it is held for as long as it listens. A lost
        connection raises to the caller, who may have missed a message, rather than being retried (redis-py may
        reconnect once before it raises; the caller closes that subscription and makes its own).
        """
        options = {
            **self._cache._pool_options,
            "max_connections": 1,
            "client_name": client_name,
            "retry": Retry(NoBackoff(), 0),
        }
        pool = self._cache._pool_class.from_url(self._servers[0], **options)
        pubsub = Redis(connection_pool=pool).pubsub()
        pubsub.subscribe(channel)
        return pubsub


class FileBasedCache(DjangoFileBasedCache):
    """Django's file cache, with `add` and `take` atomic across the processes sharing its directory.

    Django's `add` is a read then a write: two processes adding one key at once both succeed (a form sent
    twice would be made twice, `sent_forms`), and a count made that way lets two processes both write n + 1,
    so the per-key rate limit on the embedded defaults (`make run`: web and worker processes over one
    cache directory) would let more through than its limit. Here each runs under an exclusive lock on one
    file beside the entries (an entry itself cannot be locked: `set` replaces its file). Counters are
    rewritten in place under that lock.
    """

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._counting():
            return super().add(key, value, timeout, version)

    def take(self, key: str, *, up_to: int, limit: int, expires_in: int) -> int:
        """As `RedisCache.take`: add up to `up_to` to the counter `key`, never past `limit`; how much was added."""
        with self._counting():
            counted = self.get(key, 0)
            taken = min(up_to, limit - counted)
            if taken <= 0:
                return 0
            self._write_counter(key, counted + taken, expires_in)
            return taken

    def _write_counter(self, key: str, value: int, expires_in: int) -> None:
        """Rewrite an existing counter in place, as Django's `touch` does; a new one is made by `set`.

        `set` writes a temporary file and renames it over the entry. On ext4 a rename over a file makes the
        journal commit wait for data being written elsewhere on the disk, so with a large download being written
        nearby a request waited tens of milliseconds for its count. Counters are only read and written under
        the lock `_counting` holds, so no reader sees one half written.
        """
        try:
            with open(self._key_to_file(key), "r+b") as file:
                self._write_content(file, expires_in, value)
                file.truncate()
        except FileNotFoundError:
            self.set(key, value, timeout=expires_in)

    @contextmanager
    def _counting(self) -> Iterator[None]:
        self._createdir()
        with open(os.path.join(self._dir, "counters.lock"), "ab") as lock_file:
            locks.lock(lock_file, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(lock_file)
