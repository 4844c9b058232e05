"""Django's Redis cache with one redis-py client per connection pool, not one per call.

Django's `RedisCacheClient.get_client()` wraps the pool in a new `redis.Redis`
for every cache operation, and building one copies redis-py's table of ~170
response callbacks. The gateway reads the shared state token on every request,
so this cost was paid on every API call (see bench/README.md). redis-py clients
are safe to share between threads; the pools and their connections are Django's
as before.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


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
