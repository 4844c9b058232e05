"""COPY output in chunks: the first rows go out at once, and segments run in pairs without leaving anything behind."""

import threading
import time

import psycopg
import pytest
from django.db import connection

from governance.exports import segmented_copy
from governance.exports.segmented_copy import CHUNK_BYTES, FLUSH_SECONDS, SegmentedCopy, gathered

ON_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY exists on PostgreSQL only")
APPLICATION = "segmented-copy-test"


def test_the_first_row_goes_out_before_the_next_is_read():
    read = []

    def messages():
        for number in range(3):
            read.append(number)
            yield f"row {number}\n".encode()

    chunks = gathered(messages())

    assert next(chunks) == b"row 0\n"
    assert read == [0]
    assert b"".join(chunks) == b"row 1\nrow 2\n"


def test_rows_arriving_quickly_are_gathered_into_full_chunks(monkeypatch):
    monkeypatch.setattr(segmented_copy.time, "monotonic", lambda: 100.0)
    row = b"x" * 999 + b"\n"

    chunks = list(gathered(row for _ in range(1000)))

    assert b"".join(chunks) == row * 1000
    assert chunks[0] == row
    assert all(len(chunk) >= CHUNK_BYTES for chunk in chunks[1:-1])
    assert len(chunks) == 5


def test_rows_arriving_slowly_go_out_once_the_flush_interval_has_passed(monkeypatch):
    clock = iter([0.0, 0.1, 0.1 + FLUSH_SECONDS / 2, 0.1 + FLUSH_SECONDS, 10.0, 10.0])
    monkeypatch.setattr(segmented_copy.time, "monotonic", lambda: next(clock))

    chunks = list(gathered([b"a\n", b"b\n", b"c\n", b"d\n"]))

    assert chunks == [b"a\n", b"b\nc\n", b"d\n"]


def connect(**options) -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), application_name=APPLICATION, **options)


def open_sessions() -> list[tuple]:
    """Sessions this module opened that the server still holds (a closed one ends a moment later).

    The probe runs in autocommit: PostgreSQL shows a transaction the same pg_stat_activity throughout.
    """
    with connect(autocommit=True) as probe:
        for _ in range(50):
            sessions = probe.execute(
                "SELECT pid, datname, state, backend_start, query FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                [APPLICATION],
            ).fetchall()
            if not sessions:
                break
            time.sleep(0.1)
    return sessions


def spool_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("export-spool")]


def numbers(first: int, last: int) -> tuple[str, tuple]:
    return "COPY (SELECT i FROM generate_series(%s::int, %s::int) AS i) TO STDOUT", (first, last)


@ON_POSTGRESQL
@pytest.mark.django_db
def test_segments_come_out_in_order_and_are_counted():
    statements = [numbers(1, 3), numbers(4, 4), numbers(5, 9), numbers(10, 8), numbers(10, 12)]
    copied = SegmentedCopy(statements, connect=connect)

    data = b"".join(copied)

    assert data.decode().split() == [str(number) for number in range(1, 13)]
    assert copied.rows == 12
    assert open_sessions() == []
    assert spool_threads() == []


@ON_POSTGRESQL
@pytest.mark.django_db
def test_closing_the_stream_early_cancels_the_follower_and_closes_both_connections():
    endless = "COPY (SELECT pg_sleep(60)) TO STDOUT", ()
    stream = iter(SegmentedCopy([numbers(1, 3), endless, numbers(4, 6)], connect=connect))

    assert next(stream) == b"1\n"
    started = time.monotonic()
    stream.close()

    assert time.monotonic() - started < 5
    assert open_sessions() == []
    assert spool_threads() == []


@ON_POSTGRESQL
@pytest.mark.django_db
def test_a_failing_segment_fails_the_stream_and_closes_both_connections():
    failing = "COPY (SELECT 1 / (i - 2) FROM generate_series(1, 3) AS i) TO STDOUT", ()

    with pytest.raises(psycopg.errors.DivisionByZero):
        b"".join(SegmentedCopy([numbers(1, 3), failing, numbers(4, 6)], connect=connect))

    assert open_sessions() == []
    assert spool_threads() == []
