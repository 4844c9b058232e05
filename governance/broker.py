"""Celery's Redis transport with one redis-py client per channel, not one per publish.

kombu's Redis channel builds a new `redis.Redis` object for every message it
publishes. The connection comes from a pool either way, but building the client
copies redis-py's table of ~170 response callbacks, which was the largest single
cost of `POST /v1/videos` after the INSERT (see bench/README.md). This channel
keeps the client while its pool lives; when kombu drops the pool after a
connection error, the next publish builds a client on the new pool.
"""

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publishing_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._publishing_client
        if client is None or client.connection_pool is not self.pool:
            client = self._publishing_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
