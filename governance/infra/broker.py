"""kombu transports, each with one change: Redis keeps its client, the filesystem never shows half a message.

Redis: kombu's Redis channel builds a new `redis.Redis` object for every message it
publishes. The connection comes from a pool either way, but building the client
copies redis-py's table of ~170 response callbacks, which was the largest single
cost of `POST /v1/videos` after the INSERT (see bench/README.md). This channel
keeps the client while its pool lives; when kombu drops the pool after a
connection error, the next publish builds a client on the new pool.

Filesystem (the broker `make run` uses, which needs no server): kombu creates the
message file and then writes it, and a worker listing the folder in between takes
an empty file, fails to parse it and stops (celery/kombu#1551), taking `make run`
down with it. This channel writes each message under a name no reader takes and
renames it into the queue in one step; a file that still does not parse (written by
something else) is logged and skipped. A skipped message loses no generation: beat's
sweep sends every unfinished generation again.
"""

import logging
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem as kombu_filesystem
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


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


class FilesystemChannel(kombu_filesystem.Channel):
    def _put(self, queue: str, payload, **kwargs) -> None:
        final = os.path.join(self.data_folder_out, f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg")
        partial = final + ".partial"  # not `<queue>.msg`: readers pass it over
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error

    def _get(self, queue: str):
        while True:  # until a message parses; kombu's raises Empty when none is left
            try:
                return super()._get(queue)
            except ValueError as error:
                logger.error("skipped an unreadable message file in broker queue %r: %s", queue, error)


class FilesystemTransport(kombu_filesystem.Transport):
    Channel = FilesystemChannel
