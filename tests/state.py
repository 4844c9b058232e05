"""Announcing a governance state change as another process does, and waiting until this process has it."""

import time

from django.core.cache import caches

from governance.infra import caching, state_token
from governance.infra.cache_backends import RedisCache
from governance.infra.models import StateChange

PUSH_TIMEOUT_SECONDS = 2.0
SUBSCRIBE_TIMEOUT_SECONDS = 10.0  # a listener that lost its connection tries again every RETRY_SECONDS


def announce_as_another_process() -> None:
    """What a process that committed a change does, without forgetting what this process remembers."""
    StateChange.objects.create()
    assert caching.publish_state()
    wait_for_the_push()


def wait_for_the_push() -> None:
    """Wait until this process has the shared token now in the cache: at once where nothing is pushed."""
    shared = state_token.read(caches["default"])
    deadline = time.monotonic() + PUSH_TIMEOUT_SECONDS
    while caching.current_token() != shared:
        assert time.monotonic() < deadline, "the state token was not pushed to this process"
        time.sleep(0.005)


def wait_until_listening() -> None:
    """Wait until this process is subscribed to the pushed state token (only on Redis)."""
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
    while state_token.pushed(backend) is None:
        assert time.monotonic() < deadline, "the state listener did not subscribe"
        time.sleep(0.005)
