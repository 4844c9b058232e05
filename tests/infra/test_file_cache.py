"""The embedded file cache's counters (`make run`'s rate limit): exact, rewritten in place, and expiring."""

import datetime as dt
import pickle
import zlib

import pytest
import time_machine

from governance.infra.cache_backends import FileBasedCache

START = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


@pytest.fixture
def cache(tmp_path) -> FileBasedCache:
    return FileBasedCache(str(tmp_path), {})


def test_counts_taken_one_at_a_time_stop_at_the_limit(cache):
    taken = sum(cache.take("counter", up_to=1, limit=600, expires_in=120) for _ in range(700))

    assert taken == 600
    assert cache.get("counter") == 600


def test_a_take_never_goes_past_the_limit(cache):
    assert cache.take("counter", up_to=250, limit=600, expires_in=120) == 250
    assert cache.take("counter", up_to=250, limit=600, expires_in=120) == 250
    assert cache.take("counter", up_to=250, limit=600, expires_in=120) == 100
    assert cache.take("counter", up_to=250, limit=600, expires_in=120) == 0


def test_a_counter_is_rewritten_in_place_not_replaced_by_a_new_file(cache):
    """A rename over the entry waits on the disk's journal; a count must not (docs/benchmarks.md)."""
    cache.take("counter", up_to=1, limit=10**9, expires_in=120)

    with open(cache._key_to_file("counter"), "rb") as entry_as_it_was:
        for _ in range(300):
            cache.take("counter", up_to=1, limit=10**9, expires_in=120)

        assert not cache._is_expired(entry_as_it_was)
        assert pickle.loads(zlib.decompress(entry_as_it_was.read())) == 301


def test_an_expired_counter_starts_again_from_nothing(cache):
    with time_machine.travel(START, tick=False) as traveller:
        assert cache.take("counter", up_to=5, limit=8, expires_in=120) == 5
        traveller.shift(dt.timedelta(seconds=121))

        assert cache.take("counter", up_to=5, limit=8, expires_in=120) == 5
        assert cache.get("counter") == 5
