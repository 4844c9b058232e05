"""On PostgreSQL the generation row's INSERT is prepared once per session, and writes what an unprepared one would."""

import pytest
from django.db import connection

from governance.generations.models import Generation
from tests.factories import OLD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no prepared statements to keep"),
]

BODY = {"prompt": "a lighthouse at dusk", "model": OLD, "seconds": "8", "size": "1280x720"}


def prepared_inserts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO%%'")
        return [statement for (statement,) in cursor.fetchall()]


def test_the_generation_insert_is_prepared_once_and_its_row_reads_back_as_answered(api):
    answers = [api.post("videos", BODY).json() for _ in range(3)]

    [statement] = prepared_inserts()
    assert statement.startswith('INSERT INTO "generations_generation"')
    rows = Generation.objects.filter(video_id__in=[answer["id"] for answer in answers])
    assert {(row.status, row.resolved_snapshot, row.seconds, row.size) for row in rows} == {
        ("queued", OLD, 8, "1280x720")
    }
    assert all(row.timeline[0]["status"] == "queued" and row.parameters for row in rows)


def test_with_prepared_statements_off_nothing_is_prepared(api, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False  # behind a pooler that does not keep them

    response = api.post("videos", BODY)

    assert response.status_code == 200
    assert prepared_inserts() == []
