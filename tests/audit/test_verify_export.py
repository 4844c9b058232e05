"""An audit export proves itself offline: with only the file and the audit public key, no database."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from governance.audit import keys, proofs
from governance.audit.models import AuditEvent
from governance.audit.services import Actor, record_event

pytestmark = pytest.mark.django_db

PROOFS_MODULE = Path(__file__).resolve().parents[2] / "governance" / "audit" / "proofs.py"


@pytest.fixture
def auditor_kit(tmp_path):
    """What an auditor is handed: the export of the demo's chain, the public key, and the one-file verifier."""
    call_command("seed_demo")
    export = tmp_path / "audit.jsonl"
    call_command("export_audit", "--format", "jsonl", "--output", str(export), stdout=io.StringIO())
    public_key = tmp_path / "audit-public-key.pem"
    public_key.write_text(keys.public_key_pem())
    shutil.copy(PROOFS_MODULE, tmp_path / "proofs.py")
    return export, public_key


def verify_standalone(export: Path, public_key: Path) -> subprocess.CompletedProcess:
    """Run the copied verifier in a fresh, isolated interpreter in the auditor's folder."""
    return subprocess.run(
        [sys.executable, "-I", "proofs.py", export.name, public_key.name],
        cwd=export.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_export_verifies_with_only_itself_and_the_public_key(auditor_kit):
    export, public_key = auditor_kit

    result = verify_standalone(export, public_key)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Export verified: all ")


def test_the_command_verifies_an_export_of_one_project(tmp_path):
    call_command("seed_demo")
    record_event(action="login.failed", actor=Actor.system("dashboard"))
    export = tmp_path / "studio.jsonl"
    call_command(
        "export_audit", "--format", "jsonl", "--project", "studio", "--output", str(export), stdout=io.StringIO()
    )

    out = io.StringIO()
    call_command("verify_export", str(export), stdout=out)

    assert "Export verified: " in out.getvalue() and " of the " in out.getvalue()


def test_one_changed_byte_anywhere_fails_verification(auditor_kit):
    export, public_key = auditor_kit
    original = export.read_bytes()
    proof_starts = original.rindex(b'{"audit_proof":')
    positions = [*range(0, proof_starts, 97), proof_starts + 40, len(original) - 20]

    for position in positions:
        changed = bytearray(original)
        changed[position] = ord("0") if changed[position] != ord("0") else ord("1")
        export.write_bytes(bytes(changed))
        with pytest.raises(CommandError, match="Export does NOT verify"):
            call_command("verify_export", str(export), "--public-key", str(public_key), stdout=io.StringIO())


def test_a_changed_event_is_named_by_its_line(auditor_kit):
    export, public_key = auditor_kit
    lines = export.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"actor_label":"seed_demo"', b'"actor_label":"someone"')
    export.write_bytes(b"".join(lines))

    result = verify_standalone(export, public_key)

    assert result.returncode == 1
    assert "line 3: event 3 does not match its hash: it was changed" in result.stderr


def test_an_export_checked_with_another_key_fails(auditor_kit, tmp_path):
    export, _ = auditor_kit
    other = tmp_path / "other.key"
    keys.create_signing_key(other)
    stranger = tmp_path / "stranger.pem"
    call_command(
        "create_audit_signing_key", "--path", str(other), "--public-key-out", str(stranger), stdout=io.StringIO()
    )

    result = verify_standalone(export, stranger)

    assert result.returncode == 1
    assert "is not signed by this key" in result.stderr


def test_a_csv_export_or_a_cut_file_is_refused_as_unprovable(auditor_kit):
    export, public_key = auditor_kit
    export.write_bytes(b"".join(export.read_bytes().splitlines(keepends=True)[:-1]))

    result = verify_standalone(export, public_key)

    assert result.returncode == 1
    assert "carries no proof line" in result.stderr


@pytest.mark.parametrize("added", [0, 1, 2, 5, 9])
def test_the_proof_line_is_the_one_the_in_memory_definition_gives(tmp_path, added):
    """The export streams its proof; it must be byte for byte what `range_proof` over every hash would give."""
    call_command("seed_demo")
    for _ in range(added):
        record_event(action="login.failed", actor=Actor.system("dashboard"))
    export = tmp_path / "studio.jsonl"
    call_command(
        "export_audit", "--format", "jsonl", "--project", "studio", "--output", str(export), stdout=io.StringIO()
    )

    *lines, trailer = export.read_bytes().splitlines()
    checkpoint = json.loads(trailer)["audit_proof"]["checkpoint"]
    covered = AuditEvent.objects.filter(sequence__lte=checkpoint["tree_size"]).order_by("sequence")
    leaves = [proofs.event_leaf(event.hash) for event in covered]
    exported = {json.loads(line)["sequence"] - 1 for line in lines}
    assert 0 < len(exported) < len(leaves)
    assert json.loads(trailer)["audit_proof"]["proof"] == proofs.range_proof(leaves, exported)
