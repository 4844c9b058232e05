"""On PostgreSQL exports run through COPY; the bytes must equal the portable path's, whatever the data holds."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from governance.audit import exports
from governance.audit.services import Actor, record_event
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


@pytest.mark.parametrize("kind", exports.KINDS)
@pytest.mark.parametrize("format", exports.FORMATS)
def test_copy_and_portable_paths_write_the_same_bytes(awkward_rows, kind, format):
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
        written[through_copy] = (b"".join(made.stream()), made.manifest["rows"], made.manifest["sha256"])

    assert written[True] == written[False]
    data, rows, _ = written[True]
    if format == exports.JSONL:
        assert len([json.loads(line) for line in data.decode().split("\n") if line]) == rows
