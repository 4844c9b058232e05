import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.projects.models import Project


@dataclass
class Run:
    code: int
    out: str
    err: str


def governance(*args: str) -> Run:
    """`python manage.py governance ARGS`, with its exit code as the shell would see it."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("governance", *args, stdout=out, stderr=err)
    except SystemExit as stop:
        return Run(code=stop.code, out=out.getvalue(), err=err.getvalue())
    except CommandError as error:
        return Run(code=error.returncode, out=out.getvalue(), err=err.getvalue() + str(error))
    return Run(code=0, out=out.getvalue(), err=err.getvalue())


@pytest.fixture
def studio(db) -> Project:
    """The demo's `studio` project: Gemini, Runway, Veo at Vertex AI (staging with a 10% canary to Runway), and a
    protected production pinned to veo-3.1-generate-001."""
    call_command("seed_demo", stdout=io.StringIO())
    return Project.objects.get(slug="studio")


@pytest.fixture
def exported(studio, tmp_path) -> Path:
    path = tmp_path / "studio.yaml"
    assert governance("export", "studio", "--output", str(path)).code == 0
    return path


def edit(path: Path, environment: str, old: str, new: str) -> None:
    """Replace `old` by `new` inside one environment's block of an exported file."""
    text = path.read_text()
    start = text.index(f"  {environment}:\n")
    following = [text.find(f"\n  {name}:\n", start + 1) for name in ("testing", "staging", "production")]
    end = min([index for index in following if index > start] or [len(text)])
    block = text[start:end]
    assert old in block, f"{old!r} not in {environment}'s block"
    path.write_text(text[:start] + block.replace(old, new, 1) + text[end:])


def line_of(path: Path, needle: str, after: str = "") -> int:
    """The 1-based line of the first `needle` after the first `after`."""
    lines = path.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if after in line) if after else 0
    return next(index for index, line in enumerate(lines) if index >= start and needle in line) + 1
