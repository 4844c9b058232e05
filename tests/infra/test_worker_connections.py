"""A worker keeps its database connection between tasks as a web process does between requests (CONN_MAX_AGE)."""

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from governance.celery import app, close_old_database_connections

pytestmark = pytest.mark.django_db(transaction=True)

A_WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def end_of_task() -> None:
    """What the worker runs after a task: Celery's Django fixup, then ours."""
    DjangoWorkerFixup(app).on_task_postrun(A_WORKER_TASK)
    close_old_database_connections(sender=A_WORKER_TASK)


def test_it_keeps_the_connection_after_a_task_while_it_is_younger_than_conn_max_age():
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() + 60

    end_of_task()

    assert connection.connection is opened


def test_it_closes_the_connection_after_a_task_once_it_is_older_than_conn_max_age():
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    end_of_task()

    assert connection.connection is None


def test_it_leaves_a_task_run_eagerly_inside_its_callers_transaction_alone():
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() - 1

    close_old_database_connections(sender=SimpleNamespace(request=SimpleNamespace(is_eager=True)))

    assert connection.connection is opened
