"""The embedded broker (kombu's filesystem transport, as `make run` uses it) never stops a worker on a bad file."""

import logging
from queue import Empty

import pytest
from kombu import Connection

from governance.infra.broker import FilesystemTransport


@pytest.fixture
def channel(tmp_path):
    for folder in ("queue", "processed"):
        (tmp_path / folder).mkdir()
    options = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "processed_folder": str(tmp_path / "processed"),
        "store_processed": False,
    }
    with Connection("filesystem://", transport=FilesystemTransport, transport_options=options) as connection:
        yield connection.default_channel


def test_an_empty_message_file_is_skipped_with_an_error_and_the_next_message_still_arrives(channel, tmp_path, caplog):
    (tmp_path / "queue" / "0000000_empty.celery.msg").touch()  # what kombu's own writer leaves for an instant
    channel._put("celery", {"body": "next"})

    with caplog.at_level(logging.ERROR, logger="governance.infra.broker"):
        assert channel._get("celery") == {"body": "next"}

    assert "skipped an unreadable message file in broker queue 'celery'" in caplog.text
    with pytest.raises(Empty):
        channel._get("celery")


def test_a_message_appears_in_the_queue_only_once_it_is_whole(channel, tmp_path):
    (tmp_path / "queue" / "0000000_writing.celery.msg.partial").write_bytes(b'{"body": "half')
    channel._put("celery", {"body": "whole"})

    names = {path.name for path in (tmp_path / "queue").iterdir()}
    whole = {name for name in names if name.endswith(".celery.msg")}
    assert len(whole) == 1 and names - whole == {"0000000_writing.celery.msg.partial"}  # ours left no partial file
    assert channel._get("celery") == {"body": "whole"}
    with pytest.raises(Empty):
        channel._get("celery")  # the file still being written is passed over, not read half-way
