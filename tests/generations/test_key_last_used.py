"""A key's last use is kept roughly current, with a bounded memory of recent writes."""

import pytest

from governance.generations import admission
from governance.projects.models import ApiKey


@pytest.fixture(autouse=True)
def no_remembered_writes():
    admission._last_used_written.clear()
    yield
    admission._last_used_written.clear()


def test_a_keys_first_request_records_its_last_use(api):
    assert ApiKey.objects.get().last_used_at is None

    api.get("videos")

    assert ApiKey.objects.get().last_used_at is not None


def test_the_memory_of_recently_used_keys_stays_bounded(api, monkeypatch):
    monkeypatch.setattr(admission, "LAST_USED_KEYS_REMEMBERED", 3)
    for api_key_id in range(1000, 1010):
        admission._note_key_use(api_key_id)
        assert len(admission._last_used_written) <= 3

    api.get("videos")

    assert ApiKey.objects.get().last_used_at is not None
