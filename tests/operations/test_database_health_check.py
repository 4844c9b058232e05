"""A reused PostgreSQL connection is checked at each request without a round trip, and a dead one is replaced."""

import time

import psycopg
import pytest
from django.db import close_old_connections, connection

from governance.projects.models import Project

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the socket health check is PostgreSQL's"),
]


@pytest.fixture
def statements(monkeypatch):
    """Every statement sent through cursors of the raw psycopg connection, where Django's health check sends its own."""
    connection.ensure_connection()
    sent = []
    raw = connection.connection
    original_cursor = raw.cursor

    def cursor(*args, **kwargs):
        inner = original_cursor(*args, **kwargs)
        inner_execute = inner.execute

        def execute(query, *a, **k):
            sent.append(str(query))
            return inner_execute(query, *a, **k)

        inner.execute = execute
        return inner

    monkeypatch.setattr(raw, "cursor", cursor)
    return sent


def test_an_idle_connection_in_good_order_is_reused_without_asking_the_server(statements):
    assert connection.is_usable() is True
    assert statements == []


def test_a_connection_the_server_terminated_is_found_dead_and_replaced():
    Project.objects.count()
    old_pid = connection.connection.info.backend_pid
    _terminate(old_pid)

    assert _eventually(lambda: connection.is_usable() is False)
    close_old_connections()  # what Django runs as each request starts: it arms the health check
    assert Project.objects.count() == 0
    assert connection.connection.info.backend_pid != old_pid


def test_a_session_not_idle_is_asked_with_a_query(statements):
    connection.connection.execute("BEGIN")
    statements.clear()

    assert connection.is_usable() is True
    assert statements == ["SELECT 1"]
    connection.connection.execute("ROLLBACK")


def _terminate(pid: int) -> None:
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _eventually(condition, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
