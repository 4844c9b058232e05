"""Django's PostgreSQL backend with a health check that needs no round trip while the connection is quiet.

Django checks a reused connection at the start of each request (CONN_HEALTH_CHECKS) with
`SELECT 1`: a round trip and a transaction on the server for every request, on the hot path
of `POST /v1/videos`. A server that restarts, or terminates the backend, closes the socket
(and usually says why first), so the socket turns readable. An idle connection in good order
has nothing to read. This backend asks the socket first, without waiting, and falls back to
Django's `SELECT 1` only when there is something to read or the session is not idle.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE or _has_unread_data(connection.fileno()):
            return super().is_usable()
        return True


def _has_unread_data(fileno: int) -> bool:
    readable, _, _ = select.select([fileno], [], [], 0)
    return bool(readable)
