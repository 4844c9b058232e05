"""On PostgreSQL exports run through COPY; the bytes must equal the portable path's, whatever the data holds."""

import datetime as dt
import json
import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.exports import exports
from governance.generations.models import Generation
from tests.dashboard.builders import make_generation
from tests.factories import make_environment, make_project

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path exists on PostgreSQL only"),
]

AWKWARD_TEXT = 'quote " comma , backslash \\ newline \n return \r tab \t bell \x07 unit \x1f é ✓ 🎬 \u2028 end'


@pytest.fixture
def awkward_rows():
    environment = make_environment(make_project("awkward"))
    moment = dt.datetime(2026, 3, 10, 12, 0, 0, 500, tzinfo=dt.UTC)
    make_generation(
        environment,
        prompt=AWKWARD_TEXT,
        requested_model='sora-2"',
        error_message=AWKWARD_TEXT,
        parameters={"seed": "forty-two", "nested": {"b": [1, 2.5, None, True], "a": AWKWARD_TEXT}, "z": ""},
        created_at=moment,
        completed_at=moment + dt.timedelta(seconds=61, microseconds=7),
        estimated_cost=Decimal("1.2345"),
    )
    make_generation(environment, status="refused", prompt="", parameters={}, created_at=moment)
    source = make_generation(environment, parameters={"seed": 7}, created_at=moment)
    make_generation(environment, operation="remix", remixed_from=source, started_at=moment, created_at=moment)
    record_event(action="test.awkward", actor=Actor.system(AWKWARD_TEXT), payload={"text": AWKWARD_TEXT, "n": 1.5})


@pytest.fixture
def formula_rows():
    """Cells a spreadsheet would take for formulas, and numbers that begin like one (a negative seed and latency)."""
    environment = make_environment(make_project("formulas"))
    moment = dt.datetime(2026, 3, 10, 12, 0, 0, 500, tzinfo=dt.UTC)
    make_generation(
        environment,
        requested_model="=1+2",
        prompt="\tcmd|' /C calc'!A0",
        error_message="@SUM(A1:A9)",
        canary_arm="+arm",
        size="\r720x1280",
        parameters={"seed": -5, "note": "=x"},
        created_at=moment,
        completed_at=moment - dt.timedelta(seconds=1, microseconds=5),
    )
    make_generation(environment, parameters={"seed": -5}, prompt="-2+3", created_at=moment)
    record_event(action="test.formulas", actor=Actor.system("-2+3"), payload={"formula": "=1+2"})


@pytest.mark.parametrize("kind", exports.KINDS)
@pytest.mark.parametrize("format", exports.FORMATS)
def test_copy_and_portable_paths_write_the_same_bytes(awkward_rows, formula_rows, kind, format):
    # The first export's own export.made event must not show up in the second.
    before_both = exports.parse_filters(kind, until=timezone.now().isoformat())
    written = {}
    for through_copy in (True, False):
        made = exports.Export(
            kind=kind,
            format=format,
            filters=before_both,
            actor=Actor.system("tests"),
            through_copy=through_copy,
        )
        written[through_copy] = (rows_part(b"".join(made.stream())), made.manifest["rows"])

    assert written[True] == written[False]
    data, rows = written[True]
    if format == exports.JSONL:
        assert len([json.loads(line) for line in data.decode().split("\n") if line]) == rows
    else:
        assert b'"\'-2+3"' in data  # a prompt, an actor: kept from being a formula on both paths alike


def rows_part(data: bytes) -> bytes:
    """An export's rows without its proof line: each export signs its own checkpoint, so that line differs."""
    lines = data.splitlines(keepends=True)
    if lines and lines[-1].startswith(b'{"audit_proof":'):
        lines = lines[:-1]
    return b"".join(lines)


def jsonl_export(kind: str, filters: exports.ExportFilters, **options) -> tuple[bytes, exports.Export]:
    made = exports.Export(kind=kind, format=exports.JSONL, filters=filters, actor=Actor.system("tests"), **options)
    return b"".join(made.stream()), made


@pytest.fixture
def segments_made(monkeypatch):
    """How many segments each parallel export ran."""
    made = []

    class CountedCopy(exports.SegmentedCopy):
        def __init__(self, statements, **options):
            made.append(len(statements))
            super().__init__(statements, **options)

    monkeypatch.setattr(exports, "SegmentedCopy", CountedCopy)
    return made


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", exports.KINDS)
@pytest.mark.parametrize("project", ["", "awkward"])
def test_a_json_lines_export_in_segments_writes_the_same_bytes_as_one_statement(
    awkward_rows, segments_made, kind, project
):
    for number in range(7):
        record_event(action="test.more", actor=Actor.system("tests"), payload={"n": number})
    filters = exports.parse_filters(kind, project=project, until=timezone.now().isoformat())

    in_segments, segmented = jsonl_export(kind, filters, segment_keys=1)
    in_one, single = jsonl_export(kind, filters)
    portable, _ = jsonl_export(kind, filters, through_copy=False)

    assert segments_made[0] >= 4
    assert len(segments_made) == 1
    assert rows_part(in_segments) == rows_part(in_one) == rows_part(portable)
    assert segmented.manifest["rows"] == single.manifest["rows"] == len(rows_part(in_one).splitlines())


@pytest.mark.parametrize("format", exports.FORMATS)
def test_an_environment_no_project_has_exports_no_rows_with_a_manifest(awkward_rows, format):
    filters = exports.parse_filters(exports.GENERATIONS, environment="staging")
    made = exports.Export(kind=exports.GENERATIONS, format=format, filters=filters, actor=Actor.system("tests"))

    data = b"".join(made.stream())

    assert data == (exports.csv_header(made.columns) if format == exports.CSV else b"")
    assert made.manifest["rows"] == 0
    assert made.manifest["filters"]["environment"] == "staging"


@pytest.mark.django_db(transaction=True)
def test_a_json_lines_export_in_segments_reads_the_rows_as_they_were_when_it_started(awkward_rows, segments_made):
    newest = Generation.objects.order_by("pk").last()
    made = exports.Export(
        kind=exports.GENERATIONS,
        format=exports.JSONL,
        filters=exports.ExportFilters(),
        actor=Actor.system("tests"),
        segment_keys=1,
    )
    stream = made.stream()
    first = next(stream)

    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as retention:
        retention.execute("DELETE FROM generations_generation WHERE id = %s", [newest.pk])
    data = first + b"".join(stream)

    assert segments_made[0] >= 4
    assert newest.video_id.encode() in data
    assert made.manifest["rows"] == len(data.splitlines()) == 4


@pytest.mark.django_db(transaction=True)
def test_a_json_lines_export_in_segments_closed_early_leaves_no_connection_or_thread(awkward_rows, segments_made):
    made = exports.Export(
        kind=exports.AUDIT,
        format=exports.JSONL,
        filters=exports.ExportFilters(),
        actor=Actor.system("tests"),
        segment_keys=1,
    )
    already_there = other_sessions()  # a live server or worker of other tests may hold its own
    stream = made.stream()
    next(stream)
    stream.close()

    assert segments_made
    assert sessions_left(besides=already_there) == frozenset()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("export-spool")]
    assert made.manifest is None


def test_a_selective_json_lines_export_hands_out_its_first_row_at_once(awkward_rows):
    made = exports.Export(
        kind=exports.GENERATIONS,
        format=exports.JSONL,
        filters=exports.parse_filters(exports.GENERATIONS, project="awkward"),
        actor=Actor.system("tests"),
    )
    stream = made.stream()

    first = next(stream)

    assert len(first.splitlines()) == 1
    assert json.loads(first)["project"] == "awkward"
    stream.close()


def other_sessions() -> frozenset[int]:
    """The backend pids of the sessions on the test database besides this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return frozenset(row[0] for row in cursor.fetchall())


def sessions_left(besides: frozenset[int]) -> frozenset[int]:
    """Sessions opened since `besides` was taken that are still there; a closed one ends a moment later."""
    for _ in range(50):
        left = other_sessions() - besides
        if not left:
            break
        time.sleep(0.1)
    return left
