"""On Redis the state token is pushed to every process: a request asks Redis nothing to know its memory is current."""

import multiprocessing
import time
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import cache, caches
from django.utils import timezone

from governance.infra import state_token
from governance.infra.cache_backends import RedisCache
from governance.projects.models import ApiKey
from tests.state import announce_as_another_process, wait_until_listening

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="the token is pushed by Redis pub/sub"),
]

BUSY_KEY_LIMIT = 1_000_000  # leased a thousand counts at a time


@pytest.fixture
def redis_commands(monkeypatch):
    """Every command this process sends to Redis through the cache's clients (the listener's pings are its own)."""
    sent: list[tuple] = []
    send = redis.Redis.execute_command

    def counting(client, *args, **options):
        sent.append(args)
        return send(client, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


@pytest.fixture
def busy_key(api, production):
    production.rate_limit_per_minute = BUSY_KEY_LIMIT
    production.save()
    wait_until_listening()
    assert api.get("models").status_code == 200  # loads the key, takes a slice of its minute
    return api


def listener_client_id() -> int:
    client = caches["default"]._cache.get_client(write=True)
    (listener,) = [entry for entry in client.client_list() if entry["name"] == state_token.listener_name()]
    return int(listener["id"])


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_request_sends_no_command_to_redis_while_the_process_listens(busy_key, redis_commands):
    assert [busy_key.get("models").status_code for _ in range(5)] == [200] * 5
    assert redis_commands == []


def test_a_change_reaches_the_process_by_push_and_its_next_request_sees_it(busy_key, redis_commands):
    ApiKey.objects.update(revoked_at=timezone.now())
    assert busy_key.get("models").status_code == 200  # from memory: nobody announced the change

    announce_as_another_process()
    redis_commands.clear()
    assert busy_key.get("models").status_code == 401
    assert redis_commands == []  # it learned the new token from the push, not by asking


@pytest.fixture
def lost_subscription(busy_key, monkeypatch):
    """The listener's connection killed by Redis, and the listener held off for a moment before it tries again."""
    monkeypatch.setattr(state_token, "RETRY_SECONDS", 2.0)
    caches["default"]._cache.get_client(write=True).client_kill_filter(_id=listener_client_id())
    wait_until(lambda: state_token.pushed(caches["default"]) is None)
    return busy_key


def test_while_its_subscription_is_lost_a_process_reads_the_token_on_every_request(lost_subscription, redis_commands):
    ApiKey.objects.update(revoked_at=timezone.now())
    cache.set(state_token.STATE_TOKEN_KEY, "a-token-whose-push-was-lost")
    redis_commands.clear()

    assert lost_subscription.get("models").status_code == 401  # read the token itself, found it moved
    assert [command[0] for command in redis_commands] == ["GET"]


def test_a_process_subscribing_again_starts_from_the_token_announced_while_it_was_away(lost_subscription):
    cache.set(state_token.STATE_TOKEN_KEY, "announced-while-away")

    wait_until(lambda: state_token.pushed(caches["default"]) is not None, timeout=10)
    assert state_token.pushed(caches["default"]) == "announced-while-away"


def test_a_forked_process_listens_for_itself():
    """As gunicorn's and Celery's workers are: forked from a parent that may have been listening already."""
    wait_until_listening()
    fork = multiprocessing.get_context("fork")
    subscribed, heard = fork.Event(), fork.Queue()

    def worker() -> None:
        backend = caches["default"]
        wait_until(lambda: state_token.pushed(backend) is not None, timeout=10)
        first = state_token.pushed(backend)
        subscribed.set()
        wait_until(lambda: state_token.pushed(backend) != first, timeout=10)
        heard.put(state_token.pushed(backend))

    child = fork.Process(target=worker)
    child.start()
    assert subscribed.wait(timeout=15)
    state_token.publish(caches["default"])

    assert heard.get(timeout=15) == state_token.read(caches["default"])
    child.join(timeout=5)


def test_the_token_is_read_from_the_primary_not_from_a_replica_that_lags_behind():
    primary = caches["default"]._servers[0]
    database = caches["default"].database
    replica_with_nothing_yet = urlsplit(primary)._replace(path=f"/{(database + 1) % 16}").geturl()
    backend = RedisCache([primary, replica_with_nothing_yet], {})

    state_token.publish(backend)

    assert state_token.read(backend) == backend.get_from_primary(state_token.STATE_TOKEN_KEY) is not None
