"""Exports of the generation log and the audit trail: rows, formats, manifest and the export.made event."""

import csv
import datetime as dt
import hashlib
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from governance.audit.models import AuditEvent
from governance.audit.services import Actor
from governance.audit.verification import verify_chain
from governance.exports import exports
from governance.generations.models import Generation
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, make_environment, make_project

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")
DAY = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


@pytest.fixture
def log():
    """Two projects, two environments each, generations across statuses, snapshots and three days."""
    alpha, beta = make_project("alpha"), make_project("beta")
    environments = [
        make_environment(project, name) for project in (alpha, beta) for name in ("development", "production")
    ]
    statuses = ["completed", "completed", "failed", "refused", "queued"]
    for number in range(30):
        environment = environments[number % len(environments)]
        status = statuses[number % len(statuses)]
        make_generation(
            environment,
            status=status,
            resolved_snapshot="" if status == "refused" else (OLD if number % 3 else NEW),
            created_at=DAY + dt.timedelta(days=number % 3, hours=number % 24),
            completed_at=DAY + dt.timedelta(days=number % 3, hours=number % 24, seconds=42.5)
            if status in ("completed", "failed")
            else None,
            estimated_cost=Decimal("0.4000"),
            parameters={"model": NEW, "seconds": "4", "seed": number} if number % 2 else {"model": NEW},
            prompt=f'take {number}: a "quoted", comma-full\nprompt',
        )
    return alpha, beta


def export_bytes(kind: str, format: str = exports.CSV, **filters) -> tuple[bytes, exports.Export]:
    within = filters.pop("within_projects", None)
    made = exports.Export(
        kind=kind,
        format=format,
        filters=exports.parse_filters(kind, within_projects=within, **filters),
        actor=SYSTEM,
    )
    return b"".join(made.stream()), made


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def jsonl_rows(data: bytes) -> list[dict]:
    """The exported rows; an audit export's last line, its proof, is not a row."""
    lines = [json.loads(line, parse_float=Decimal) for line in data.decode().splitlines()]
    return [line for line in lines if "audit_proof" not in line]


GENERATION_FILTERS = [
    ({}, {}),
    ({"project": "alpha"}, {"project__slug": "alpha"}),
    ({"environment": "production"}, {"environment__name": "production"}),
    ({"snapshot": OLD}, {"resolved_snapshot": OLD}),
    ({"status": "failed"}, {"status": "failed"}),
    ({"since": "2026-03-11"}, {"created_at__gte": DAY + dt.timedelta(days=1)}),
    ({"until": "2026-03-11"}, {"created_at__lt": DAY + dt.timedelta(days=2)}),
    (
        {"since": "2026-03-11T06:00:00Z", "until": "2026-03-12T06:00"},
        {"created_at__gte": DAY + dt.timedelta(hours=30), "created_at__lt": DAY + dt.timedelta(hours=54)},
    ),
    (
        {"project": "beta", "environment": "development", "status": "completed"},
        {"project__slug": "beta", "environment__name": "development", "status": "completed"},
    ),
]


@pytest.mark.parametrize("format", exports.FORMATS)
@pytest.mark.parametrize(("filters", "lookup"), GENERATION_FILTERS)
def test_generation_rows_match_the_database_for_each_filter(log, format, filters, lookup):
    data, made = export_bytes(exports.GENERATIONS, format, **filters)

    expected = Generation.objects.filter(**lookup)
    rows = csv_rows(data) if format == exports.CSV else jsonl_rows(data)
    assert len(rows) == expected.count() == made.manifest["rows"] > 0
    assert [row["video_id"] for row in rows] == list(expected.order_by("pk").values_list("video_id", flat=True))


@pytest.mark.parametrize(
    ("filters", "lookup"),
    [
        ({}, {}),
        ({"project": "alpha"}, {"project__slug": "alpha"}),
        ({"environment": "production"}, {"environment__name": "production"}),
        ({"action": "policy.revised"}, {"action": "policy.revised"}),
        ({"since": "2000-01-01", "until": "2999-12-31"}, {}),
        ({"until": "2000-01-01"}, {"pk": None}),
    ],
)
def test_audit_rows_match_the_database_for_each_filter(log, filters, lookup):
    expected = list(AuditEvent.objects.filter(**lookup).values_list("sequence", flat=True))

    data, made = export_bytes(exports.AUDIT, exports.JSONL, **filters)

    rows = jsonl_rows(data)
    assert [row["sequence"] for row in rows] == expected
    assert made.manifest["rows"] == len(expected)


def test_csv_and_jsonl_hold_the_same_rows(log):
    csv_data, _ = export_bytes(exports.GENERATIONS, exports.CSV)
    jsonl_data, _ = export_bytes(exports.GENERATIONS, exports.JSONL)

    def as_csv_text(value) -> str:
        if value is None:
            return ""
        return str(value) if isinstance(value, str | int | Decimal) else json.dumps(value)

    from_csv = csv_rows(csv_data)
    from_jsonl = jsonl_rows(jsonl_data)
    assert len(from_csv) == len(from_jsonl) == Generation.objects.count()
    for csv_row, jsonl_row in zip(from_csv, from_jsonl, strict=True):
        assert list(csv_row) == list(jsonl_row) == [column.name for column in exports.GENERATION_COLUMNS]
        assert json.loads(csv_row.pop("parameters")) == jsonl_row.pop("parameters")
        assert csv_row == {name: as_csv_text(value) for name, value in jsonl_row.items()}


def test_a_generation_row_carries_what_traceability_needs(log):
    generation = Generation.objects.filter(status="completed").exclude(parameters__seed=None).first()

    data, _ = export_bytes(exports.GENERATIONS, exports.JSONL)

    row = next(row for row in jsonl_rows(data) if row["video_id"] == generation.video_id)
    revision = generation.policy_revision
    assert row["project"] == generation.project.slug
    assert row["environment"] == generation.environment.name
    assert row["resolved_snapshot"] == generation.resolved_snapshot
    assert row["requested_model"] == generation.requested_model
    assert (row["policy_revision"], row["policy_revision_id"]) == (
        (revision.number, revision.pk) if revision else (None, None)
    )
    assert row["parameters"] == generation.parameters
    assert row["seed"] == generation.parameters["seed"]
    assert row["prompt"] == generation.prompt
    assert row["status"] == "completed"
    assert row["created_at"] == generation.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert row["latency_seconds"] == Decimal("42.500000")
    assert row["estimated_cost"] == row["cost"] == Decimal("0.4000")


def test_a_refused_generation_carries_its_reason_and_costs_nothing(log):
    refused = Generation.objects.filter(status="refused").first()
    Generation.objects.filter(pk=refused.pk).update(
        error_code="alias_not_allowed", error_message="Aliases are refused here.", error_param="model"
    )

    data, _ = export_bytes(exports.GENERATIONS, exports.CSV, status="refused")

    row = next(row for row in csv_rows(data) if row["video_id"] == refused.video_id)
    assert (row["error_code"], row["error_message"], row["error_param"]) == (
        "alias_not_allowed",
        "Aliases are refused here.",
        "model",
    )
    assert row["cost"] == "0.0000"
    assert row["completed_at"] == row["latency_seconds"] == ""


def test_the_manifest_states_the_bytes_and_the_chain_head(log):
    head = exports.chain_head()

    data, made = export_bytes(exports.GENERATIONS, exports.CSV, project="alpha", status="completed")

    manifest = made.manifest
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data)
    assert manifest["chain_head"] == {"sequence": head.sequence, "hash": head.hash}
    assert manifest["filters"]["project"] == "alpha"
    assert manifest["filters"]["status"] == "completed"
    assert (manifest["kind"], manifest["format"]) == ("generations", "csv")
    assert manifest["exported_by"] == {"type": "system", "label": "tests"}
    assert manifest["up_to_generation_id"] == Generation.objects.order_by("pk").last().pk


def test_an_export_is_exactly_one_export_made_event_and_the_chain_still_verifies(log):
    before = AuditEvent.objects.count()

    _, made = export_bytes(exports.AUDIT, exports.CSV)

    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="export.made")
    manifest = made.manifest
    assert manifest["audit_event"] == {"sequence": event.sequence, "hash": event.hash}
    assert event.payload == {
        key: value for key, value in manifest.items() if key not in ("audit_event", "exported_by", "exported_at")
    }
    assert exports.manifest_of(event) == manifest
    assert event.project is None
    assert verify_chain().intact


def test_an_export_of_one_project_is_recorded_against_that_project(log):
    alpha, _ = log

    export_bytes(exports.GENERATIONS, exports.CSV, project="alpha", environment="production")

    event = AuditEvent.objects.get(action="export.made")
    assert event.project == alpha
    assert event.environment.name == "production"


def test_an_export_closed_before_its_end_records_nothing(log):
    made = exports.Export(
        kind=exports.GENERATIONS, format=exports.JSONL, filters=exports.ExportFilters(), actor=SYSTEM, batch_rows=5
    )
    stream = made.stream()

    next(stream)
    stream.close()

    assert made.manifest is None
    assert not AuditEvent.objects.filter(action="export.made").exists()
    assert verify_chain().intact


def test_an_export_streams_before_it_has_read_every_row(log):
    made = exports.Export(
        kind=exports.GENERATIONS,
        format=exports.CSV,
        filters=exports.ExportFilters(),
        actor=SYSTEM,
        batch_rows=5,
        through_copy=False,
    )
    stream = made.stream()

    header = next(stream)
    first_rows = next(stream)

    assert header.startswith(b'"video_id","project"')
    assert len(csv_rows(header + first_rows)) == 5
    assert made.rows == 5 < Generation.objects.count()
    stream.close()


@pytest.mark.django_db(transaction=True)
def test_rows_added_during_an_export_are_not_in_it(log):
    # On PostgreSQL one COPY holds the connection until its last row, so the late row is
    # written while the export runs in segments on connections of its own.
    environment = make_environment(make_project("gamma"))
    made = exports.Export(
        kind=exports.GENERATIONS,
        format=exports.JSONL,
        filters=exports.ExportFilters(),
        actor=SYSTEM,
        batch_rows=5,
        segment_keys=5,
    )
    stream = made.stream()
    first = next(stream)
    count_at_start = Generation.objects.count()

    late = make_generation(environment)
    data = first + b"".join(stream)

    assert made.manifest["rows"] == len(jsonl_rows(data)) == count_at_start
    assert late.video_id.encode() not in data


def test_an_export_can_be_streamed_only_once(log):
    made = exports.Export(kind=exports.AUDIT, format=exports.CSV, filters=exports.ExportFilters(), actor=SYSTEM)
    b"".join(made.stream())

    with pytest.raises(RuntimeError, match="only once"):
        made.stream()


def test_a_project_admins_scope_limits_every_export(log):
    alpha, beta = log

    data, made = export_bytes(exports.GENERATIONS, exports.CSV, within_projects=[alpha])

    assert {row["project"] for row in csv_rows(data)} == {"alpha"}
    assert made.manifest["filters"]["within_projects"] == ["alpha"]
    with pytest.raises(exports.ExportError, match="only the projects you administer \\(alpha\\); 'beta'"):
        exports.parse_filters(exports.GENERATIONS, project="beta", within_projects=[alpha])


@pytest.mark.parametrize(
    ("kind", "filters", "message"),
    [
        (exports.GENERATIONS, {"project": "nope"}, "No project has the slug 'nope'."),
        (exports.GENERATIONS, {"environment": "prod"}, "Unknown environment 'prod'; use one of: development,"),
        (exports.GENERATIONS, {"status": "done"}, "Unknown status 'done'; use one of: refused,"),
        (
            exports.GENERATIONS,
            {"snapshot": "sora-9"},
            "No snapshot named 'sora-9' is in the catalog or the generation log.",
        ),
        (exports.GENERATIONS, {"since": "last week"}, "'last week' is not an ISO date"),
        (exports.GENERATIONS, {"since": "2026-03-12", "until": "2026-03-11"}, "The range is empty"),
        (exports.AUDIT, {"action": "DROP TABLE"}, "'DROP TABLE' is not an audit action"),
        (exports.AUDIT, {"status": "failed"}, "Snapshot and status filter generation exports only."),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(log, kind, filters, message):
    with pytest.raises(exports.ExportError) as refused:
        exports.parse_filters(kind, **filters)
    assert str(refused.value).startswith(message)


def test_dates_are_whole_utc_days_and_times_can_name_an_offset():
    assert exports.parse_moment("2026-03-10") == DAY
    assert exports.parse_moment("2026-03-10", until=True) == DAY + dt.timedelta(days=1)
    assert exports.parse_moment("2026-03-10T12:00") == DAY + dt.timedelta(hours=12)
    assert exports.parse_moment("2026-03-10T14:00:00+02:00") == DAY + dt.timedelta(hours=12)


# The commands


def test_export_generations_writes_the_file_and_its_manifest(log, tmp_path):
    output = tmp_path / "alpha.csv"
    out = io.StringIO()

    call_command("export_generations", format="csv", project="alpha", output=str(output), stdout=out)

    manifest = json.loads((tmp_path / "alpha.csv.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert (
        manifest["rows"]
        == len(csv_rows(output.read_bytes()))
        == Generation.objects.filter(project__slug="alpha").count()
    )
    assert manifest["exported_by"]["label"].startswith("manage.py export_generations (OS user ")
    event = AuditEvent.objects.get(action="export.made")
    assert manifest["audit_event"]["sequence"] == event.sequence
    assert f"Exported {manifest['rows']} rows to {output}" in out.getvalue()


def test_export_audit_writes_to_stdout_and_the_manifest_to_stderr(log):
    stdout, stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()

    call_command("export_audit", format="jsonl", action="policy.revised", stdout=stdout, stderr=stderr)

    stdout.flush()
    data = stdout.buffer.getvalue()
    manifest = json.loads(stderr.getvalue())
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert [row["action"] for row in jsonl_rows(data)] == ["policy.revised"] * manifest["rows"]
    assert manifest["rows"] == AuditEvent.objects.filter(action="policy.revised").count()


def test_the_manifest_can_go_to_a_path_of_its_own(log, tmp_path):
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")

    call_command("export_audit", format="csv", manifest=str(tmp_path / "m.json"), stdout=stdout)

    stdout.flush()
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(stdout.buffer.getvalue()).hexdigest()


def test_a_bad_filter_is_a_command_error(log, tmp_path):
    with pytest.raises(CommandError, match="Unknown status 'done'"):
        call_command("export_generations", format="csv", status="done", output=str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()
    assert not AuditEvent.objects.filter(action="export.made").exists()


def test_a_failed_write_leaves_no_file_and_no_event(log, tmp_path, monkeypatch):
    def fail_half_way(self):
        yield b"first chunk"
        raise OSError("No space left on device")

    monkeypatch.setattr(exports.Export, "stream", fail_half_way)
    output = tmp_path / "x.csv"

    with pytest.raises(OSError, match="No space left"):
        call_command("export_generations", format="csv", output=str(output))

    assert not output.exists()
    assert not AuditEvent.objects.filter(action="export.made").exists()
