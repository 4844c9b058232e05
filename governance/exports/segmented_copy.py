"""COPY statements run two at a time on two PostgreSQL connections that share one snapshot.

PostgreSQL formats a COPY's rows on one backend, so one CPU-bound statement (JSON Lines
through `row_to_json`) runs at one core's speed. Split into consecutive segments, the
statements run in pairs: the leader connection streams segment 0, 2, 4... straight to
the caller while the follower writes segment 1, 3, 5... to a temporary file in a
thread, and each file is handed out when its turn comes. Output is in segment order,
and both connections read the same snapshot (`pg_export_snapshot()` on the leader,
`SET TRANSACTION SNAPSHOT` on the follower), so the result equals one statement's.

At most two temporary files exist at a time (the one handed out, the one being
written), each holding one segment; memory holds one chunk and the files' first
`SPOOL_MEMORY_BYTES`. Closed early or failing, the stream cancels the follower's
statement, waits for its thread and closes both connections.
"""

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import IO, Any

import psycopg
from psycopg import sql

CHUNK_BYTES = 256 * 1024  # what one yield hands to the web server or the file
FLUSH_SECONDS = 0.2  # rows never wait longer than this for their chunk to fill
SPOOL_MEMORY_BYTES = 4 * 1024 * 1024  # a temporary file's share kept in memory before it goes to disk

Statement = tuple[str, Sequence[Any]]


def gathered(messages: Iterable[bytes]) -> Iterator[bytes]:
    """COPY's messages (one per row) gathered into chunks of about CHUNK_BYTES.

    A chunk also goes out when FLUSH_SECONDS have passed since the last one, and the
    first row goes out at once, so a selective export shows its first rows as soon as
    the server finds them instead of when a chunk has filled.
    """
    buffer, due = bytearray(), 0.0
    for data in messages:
        buffer += data
        if len(buffer) >= CHUNK_BYTES or time.monotonic() >= due:
            yield bytes(buffer)
            buffer.clear()
            due = time.monotonic() + FLUSH_SECONDS
    if buffer:
        yield bytes(buffer)


class SegmentedCopy:
    """The output of `COPY ... TO STDOUT` statements, in order; `rows` counts the rows handed out.

    `connect` opens a new connection to the database; the two it opens are closed at the end.
    """

    def __init__(self, statements: Sequence[Statement], *, connect: Callable[[], psycopg.Connection]) -> None:
        self.statements = statements
        self.connect = connect
        self.rows = 0
        self._stopping = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        leader, follower = self._connect_pair()
        spooler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-spool")
        pending: Future | None = None
        try:
            followed = iter(self.statements[1::2])
            pending = self._spool_next(spooler, follower, followed)
            for statement in self.statements[0::2]:
                yield from self._streamed(leader, statement)
                if pending is None:
                    continue
                spool, rows = pending.result()
                with spool:
                    # The follower starts on its next segment while this one is handed out.
                    pending = self._spool_next(spooler, follower, followed)
                    self.rows += rows
                    while chunk := spool.read(CHUNK_BYTES):
                        yield chunk
        finally:
            self._abandon(pending, follower)
            spooler.shutdown(wait=True)
            leader.close()
            follower.close()

    def _connect_pair(self) -> tuple[psycopg.Connection, psycopg.Connection]:
        leader = _read_only(self.connect())
        try:
            snapshot = leader.execute("SELECT pg_export_snapshot()").fetchone()[0]
            _stream_plans_only(leader)
            follower = _read_only(self.connect())
        except BaseException:
            leader.close()
            raise
        try:
            follower.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            _stream_plans_only(follower)
        except BaseException:
            leader.close()
            follower.close()
            raise
        return leader, follower

    def _streamed(self, connection: psycopg.Connection, statement: Statement) -> Iterator[bytes]:
        with connection.cursor() as cursor:
            with cursor.copy(*statement) as copy:
                yield from gathered(copy)
            self.rows += cursor.rowcount

    def _spool_next(
        self, spooler: ThreadPoolExecutor, connection: psycopg.Connection, statements: Iterator[Statement]
    ) -> Future | None:
        statement = next(statements, None)
        return spooler.submit(_spooled, connection, statement, self._stopping) if statement is not None else None

    def _abandon(self, pending: Future | None, follower: psycopg.Connection) -> None:
        """Stop a segment still being written (the stream was closed early or failed) and drop its file.

        The cancel stops a statement the server is running; the flag stops one whose
        cancel arrived before it started, at its first row.
        """
        if pending is None:
            return
        if not pending.done():
            self._stopping.set()
            follower.cancel_safe()
        with suppress(Exception):
            spool, _ = pending.result()
            spool.close()


def _read_only(connection: psycopg.Connection) -> psycopg.Connection:
    """A connection whose transaction (begun by its first statement) can export or import a snapshot."""
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    connection.read_only = True
    return connection


def _stream_plans_only(connection: psycopg.Connection) -> None:
    """No parallel workers for this transaction's statements.

    A segment is a narrow key range, and for one the planner may pick a parallel plan
    that hashes a whole joined table and sorts the segment before its first row; without
    workers it reads the key's index in order through nested loops and streams, as the
    single statement over every row does. Two connections already use both cores.
    """
    connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")


class Abandoned(Exception):
    """The stream no longer wants this segment."""


def _spooled(connection: psycopg.Connection, statement: Statement, stopping: threading.Event) -> tuple[IO[bytes], int]:
    """One statement's whole output in a temporary file, rewound; and its row count. Runs in the spooler thread."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    try:
        with connection.cursor() as cursor:
            with cursor.copy(*statement) as copy:
                buffer = bytearray()
                for data in copy:
                    if stopping.is_set():
                        raise Abandoned
                    buffer += data
                    if len(buffer) >= CHUNK_BYTES:
                        spool.write(buffer)
                        buffer.clear()
                spool.write(buffer)
            rows = cursor.rowcount
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, rows
