import datetime as dt
import multiprocessing

import pytest
import time_machine
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings

from governance.audit.models import AuditEvent
from governance.generations import ratelimit
from governance.generations.models import Generation
from governance.infra.cache_backends import RedisCache
from governance.projects.models import ApiKey, Environment
from governance.projects.services import set_rate_limit
from tests.factories import OLD, SYSTEM, make_api_key
from tests.generations.conftest import Api

UNREACHABLE_CACHE = {
    "default": {"BACKEND": "governance.infra.cache_backends.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}
START_OF_A_MINUTE = dt.datetime(2026, 3, 2, 9, 30, 0, tzinfo=dt.UTC)


def limit(environment: Environment, per_minute: int) -> None:
    set_rate_limit(environment=environment, per_minute=per_minute, actor=SYSTEM)


def test_an_environment_allows_600_requests_per_minute_per_key_by_default(production):
    assert production.rate_limit_per_minute == 600


@time_machine.travel(START_OF_A_MINUTE + dt.timedelta(seconds=15), tick=False)
def test_a_key_over_its_limit_gets_an_openai_shaped_429_with_retry_after(api, production):
    limit(production, 3)
    assert [api.get("models").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("models")
    assert response.status_code == 429
    assert response.json()["error"] == {
        "message": response.json()["error"]["message"],
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert "3 requests per minute" in response.json()["error"]["message"]
    assert response["Retry-After"] == "45"
    assert response["x-should-retry"] == "true"


def test_a_rate_limited_request_is_not_written_to_the_generation_log(api, production):
    limit(production, 1)
    assert api.post("videos", {"prompt": "a lighthouse", "model": OLD}).status_code == 200
    response = api.post("videos", {"prompt": "a lighthouse", "model": OLD})
    assert response.status_code == 429
    assert "X-Governance-Generation" not in response
    assert Generation.objects.count() == 1


def test_each_key_has_its_own_count(api, production):
    limit(production, 1)
    other = Api(make_api_key(production))
    assert api.get("models").status_code == 200
    assert other.get("models").status_code == 200
    assert api.get("models").status_code == 429
    assert other.get("models").status_code == 429


def test_the_next_minute_starts_a_new_count(api, production):
    limit(production, 1)
    with time_machine.travel(START_OF_A_MINUTE + dt.timedelta(seconds=59), tick=False) as traveller:
        assert api.get("models").status_code == 200
        assert api.get("models").status_code == 429
        traveller.shift(dt.timedelta(seconds=1))
        assert api.get("models").status_code == 200


def test_zero_turns_the_limit_off(api, production):
    limit(production, 0)
    assert {api.get("models").status_code for _ in range(5)} == {200}


def test_a_changed_limit_applies_from_the_next_request_and_is_audited(api, production):
    limit(production, 1)
    api.get("models")
    assert api.get("models").status_code == 429
    limit(production, 5)
    assert api.get("models").status_code == 200
    event = AuditEvent.objects.filter(action="environment.rate_limit_changed").last()
    assert event.payload == {"from": 1, "to": 5}
    assert event.environment_id == production.pk


def test_an_unchanged_limit_writes_no_event(production):
    limit(production, 600)
    assert not AuditEvent.objects.filter(action="environment.rate_limit_changed").exists()


def test_a_negative_limit_is_refused(production):
    with pytest.raises(ValueError):
        limit(production, -1)


def test_requests_pass_when_the_cache_is_unreachable(api, production):
    limit(production, 1)
    assert api.get("models").status_code == 200
    with override_settings(CACHES=UNREACHABLE_CACHE):
        assert {api.get("models").status_code for _ in range(3)} == {200}


def test_the_count_is_shared_through_the_cache_not_held_in_the_process():
    assert ratelimit.seconds_until_allowed(api_key_id=1, per_minute=2, now=120.0) is None
    ratelimit.forget_leases()  # as another process would: it holds nothing this one took
    assert ratelimit.seconds_until_allowed(api_key_id=1, per_minute=2, now=121.0) is None
    ratelimit.forget_leases()
    assert ratelimit.seconds_until_allowed(api_key_id=1, per_minute=2, now=179.5) == 1


@time_machine.travel(START_OF_A_MINUTE + dt.timedelta(seconds=5), tick=False)
def test_a_refused_request_takes_nothing_so_a_raised_limit_applies_at_once(api, production):
    limit(production, 2000)  # leased two at a time
    assert [api.get("models").status_code for _ in range(2000)].count(200) == 2000
    assert {api.get("models").status_code for _ in range(50)} == {429}
    limit(production, 2002)
    assert [api.get("models").status_code for _ in range(3)] == [200, 200, 429]


def test_the_command_sets_an_environments_limit(production, capsys):
    call_command("set_rate_limit", production.project.slug, "production", "120")
    production.refresh_from_db()
    assert production.rate_limit_per_minute == 120
    assert "120 requests per minute per key" in capsys.readouterr().out


PROCESSES, REQUESTS_EACH, LIMIT = 4, 60, 100


def let_through_by_processes(*, per_minute: int, requests_each: int) -> int:
    """How many of their requests PROCESSES forked processes, asking at once, are let through in one minute.

    Each counts through the embedded file cache's directory, as `make run`'s processes and gunicorn's workers do.
    """
    now = START_OF_A_MINUTE.timestamp() + 5
    fork = multiprocessing.get_context("fork")
    start, allowed = fork.Barrier(PROCESSES), fork.Queue()

    def web_process() -> None:
        start.wait()
        passed = sum(
            ratelimit.seconds_until_allowed(api_key_id=7, per_minute=per_minute, now=now) is None
            for _ in range(requests_each)
        )
        allowed.put(passed)

    processes = [fork.Process(target=web_process) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    return sum(allowed.get(timeout=5) for _ in processes)


@pytest.fixture
def file_cache(settings, tmp_path):
    settings.CACHES = {
        "default": {"BACKEND": "governance.infra.cache_backends.FileBasedCache", "LOCATION": str(tmp_path)}
    }


def test_processes_sharing_the_embedded_file_cache_let_through_exactly_the_limit(file_cache):
    assert let_through_by_processes(per_minute=LIMIT, requests_each=REQUESTS_EACH) == LIMIT  # of 240 requests


def test_a_busy_key_takes_its_counts_from_the_shared_counter_a_slice_at_a_time(api, production):
    limit(production, 1_000_000)
    window = f"{ratelimit.KEY_PREFIX}:{ApiKey.objects.get().pk}:{int(START_OF_A_MINUTE.timestamp()) // 60}"
    with time_machine.travel(START_OF_A_MINUTE, tick=False):
        assert [api.get("models").status_code for _ in range(3)] == [200, 200, 200]
        shared = caches["default"].get(window)
    assert shared == 1000  # one slice, a thousandth of the limit, for the three requests


def test_a_lowered_limit_applies_at_once_though_a_slice_of_the_higher_one_is_left(api, production):
    limit(production, 2_000_000)
    assert api.get("models").status_code == 200  # 1,999 counts of the window left in this process
    limit(production, 1)
    assert api.get("models").status_code == 429


SLICED_LIMIT = 4000  # leased four at a time


def test_processes_leasing_slices_never_let_more_than_the_limit_through(file_cache):
    let_through = let_through_by_processes(per_minute=SLICED_LIMIT, requests_each=SLICED_LIMIT // 3)  # of 5,332
    most_left_in_other_slices = (PROCESSES - 1) * (ratelimit.lease_size(SLICED_LIMIT) - 1)
    assert SLICED_LIMIT - most_left_in_other_slices <= let_through <= SLICED_LIMIT


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="the shared cache is Redis in production")
def test_a_windows_counter_in_redis_expires_after_the_window():
    backend = caches["default"]
    key = f"{ratelimit.KEY_PREFIX}:test:{START_OF_A_MINUTE.timestamp()}"

    assert backend.take(key, up_to=1, limit=1500, expires_in=ratelimit.COUNTER_SECONDS) == 1
    assert backend.take(key, up_to=1000, limit=1500, expires_in=ratelimit.COUNTER_SECONDS) == 1000
    assert backend.take(key, up_to=1000, limit=1500, expires_in=ratelimit.COUNTER_SECONDS) == 499
    assert backend.take(key, up_to=1000, limit=1500, expires_in=ratelimit.COUNTER_SECONDS) == 0
    client = backend._cache.get_client(write=True)
    assert 0 < client.ttl(backend.make_and_validate_key(key)) <= ratelimit.COUNTER_SECONDS


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="the shared cache is Redis in production")
def test_a_count_goes_through_when_redis_no_longer_knows_the_script(monkeypatch):
    """As after a Redis restart: the script is sent in full once, then by its SHA-1 again."""
    monkeypatch.setattr(RedisCache._take, "sha", "0" * 40)
    key = f"{ratelimit.KEY_PREFIX}:test:restarted"

    assert [caches["default"].take(key, up_to=1, limit=5, expires_in=60) for _ in range(2)] == [1, 1]
