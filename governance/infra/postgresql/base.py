"""Django's PostgreSQL backend, with a cheaper health check and a cursor for statements worth preparing.

Django checks a reused connection at the start of each request (CONN_HEALTH_CHECKS) with
`SELECT 1`: a round trip and a transaction on the server for every request, on the hot path
of `POST /v1/videos`. A server that restarts, or terminates the backend, closes the socket
(and usually says why first), so the socket turns readable. An idle connection in good order
has nothing to read. This backend asks the socket first, without waiting, and falls back to
Django's `SELECT 1` only when there is something to read or the session is not idle.

Django sends every statement as text with its values inlined (client-side binding), so the
server parses, rewrites and plans it anew each time. A cursor made inside `preparing_statements()`
binds on the server and prepares each statement on its first use in a session: later runs skip the
parse, the rewrite (for the generation row's INSERT, fifteen catalog lookups of its identity column)
and the plan. The hot path's INSERT and a generation's step use it. Django leaves preparing off
so that connection poolers work; a pooler must keep a session's prepared statements (PgBouncer
1.21+ with `max_prepared_statements`), else set DATABASE_PREPARED_STATEMENTS=0.
"""

import contextlib
import select
from collections.abc import Iterator

from django.conf import settings
from django.db.backends.postgresql import base, operations
from psycopg.pq import TransactionStatus

ONLY_WHEN_ASKED = 2**31  # psycopg's threshold: prepare a statement after this many runs, or when asked to


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        """For the debug log (DEBUG, or a test capturing queries): a prepared statement's text with its values."""
        if isinstance(cursor, PreparingCursor):
            return self.compose_sql(sql, params)
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE or _has_unread_data(connection.fileno()):
            return super().is_usable()
        return True

    def get_connection_params(self) -> dict:
        """psycopg prepares nothing on a connection whose threshold is None, as Django sets it: with preparing on,
        only what is asked to prepare is (Django's own cursors bind on the client, and never prepare)."""
        params = super().get_connection_params()
        if settings.DATABASE_PREPARED_STATEMENTS and params["prepare_threshold"] is None:
            params["prepare_threshold"] = ONLY_WHEN_ASKED
        return params

    preparing = False

    def create_cursor(self, name=None):
        """Inside `preparing_statements()`, a cursor that prepares what it runs; else Django's."""
        if self.preparing and name is None:
            return PreparingCursor(self.connection)
        return super().create_cursor(name)

    @contextlib.contextmanager
    def preparing_statements(self) -> Iterator[None]:
        """The ORM's statements run inside are bound on the server and prepared once per session (where
        DATABASE_PREPARED_STATEMENTS is on): for code that runs the same statements again and again, such as
        a generation's step, whose read of the row cost PostgreSQL more to plan than to run."""
        previous, self.preparing = self.preparing, settings.DATABASE_PREPARED_STATEMENTS
        try:
            yield
        finally:
            self.preparing = previous


class PreparingCursor(base.ServerBindingCursor):
    """Binds values on the server, and has psycopg prepare each statement once per session.

    A statement without parameters is sent as it is: Django's transaction control (a savepoint's name is new
    each time) and settings, which would only fill the session's prepared statements.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None:
            prepare = params is not None
        return super().execute(query, params, prepare=prepare, binary=binary)


def _has_unread_data(fileno: int) -> bool:
    readable, _, _ = select.select([fileno], [], [], 0)
    return bool(readable)
