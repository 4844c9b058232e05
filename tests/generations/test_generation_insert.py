"""The generation row's INSERT, compiled once per process (and prepared once per session on PostgreSQL), writes
exactly what Django's own `save()` would, and an accepted one's outbox entry with it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from governance.generations.models import Generation, new_video_id
from governance.lib.inserts import insert_new
from tests.factories import OLD

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no prepared statements")

BODY = {"prompt": "a lighthouse at dusk", "model": OLD, "seconds": "8", "size": "1280x720"}


def prepared_inserts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%%INSERT INTO%%'")
        return [statement for (statement,) in cursor.fetchall()]


def row(generation: Generation) -> dict:
    return {
        field.attname: getattr(generation, field.attname)
        for field in Generation._meta.concrete_fields
        if field.attname not in ("id", "video_id")
    }


def test_the_compiled_insert_writes_what_save_writes(api):
    accepted = Generation.objects.get(video_id=api.post("videos", BODY).json()["id"])
    values = {
        **row(accepted),
        "progress": 7,
        "simulated": True,
        "estimated_cost": Decimal("1.2345"),
        "started_at": dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC),
        "error_message": "ünïcode, 'quotes' and %s",
        "size": 1280,  # not a str: prepared as Django prepares it
    }
    by_insert, by_save = Generation(video_id=new_video_id(), **values), Generation(video_id=new_video_id(), **values)

    assert insert_new(by_insert) is True
    by_save.save(force_insert=True)

    written, saved = (row(Generation.objects.get(pk=generation.pk)) for generation in (by_insert, by_save))
    assert written == saved
    assert (written["progress"], written["error_message"], written["size"]) == (7, "ünïcode, 'quotes' and %s", "1280")


@on_postgresql
def test_the_generation_insert_is_prepared_once_and_its_row_reads_back_as_answered(api):
    answers = [api.post("videos", BODY).json() for _ in range(3)]

    [statement] = prepared_inserts()  # the row and its outbox entry, in one statement
    assert statement.startswith('WITH inserted AS (INSERT INTO "generations_generation"')
    assert 'INSERT INTO "generations_outbox"' in statement
    rows = Generation.objects.filter(video_id__in=[answer["id"] for answer in answers])
    assert set(Generation.objects.awaiting_dispatch()) == set(rows)
    assert {(row.status, row.resolved_snapshot, row.seconds, row.size) for row in rows} == {
        ("queued", OLD, 8, "1280x720")
    }
    assert all(row.timeline[0]["status"] == "queued" and row.parameters for row in rows)


@on_postgresql
def test_with_prepared_statements_off_nothing_is_prepared(api, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False  # behind a pooler that does not keep them

    response = api.post("videos", BODY)

    assert response.status_code == 200
    assert prepared_inserts() == []
