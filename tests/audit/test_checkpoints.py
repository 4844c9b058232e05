"""Checkpoints signed outside the database catch what someone holding the whole database can do at its end."""

import io
import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from governance.audit import checkpoints, keys, proofs, verification
from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import Actor, record_event
from tests.audit_tampering import as_database_superuser, cut_off_last, forge_append, rewrite

pytestmark = pytest.mark.django_db


def verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as error:
        return 1, str(error)
    return 0, out.getvalue()


@pytest.fixture
def checkpointed_demo():
    call_command("seed_demo")
    call_command("audit_checkpoint", stdout=io.StringIO())
    return AuditChainHead.objects.get(pk=1).sequence


def test_a_checkpoint_is_a_signed_read_only_file_outside_the_database(audit_checkpoint_dir):
    call_command("seed_demo")
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)

    [written] = list(audit_checkpoint_dir.iterdir())
    checkpoint = proofs.Checkpoint.from_dict(json.loads(written.read_text()))
    head = AuditChainHead.objects.get(pk=1)
    assert (checkpoint.tree_size, checkpoint.head_hash) == (head.sequence, head.hash)
    assert checkpoint.signature_holds(keys.public_key())
    assert not written.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert f"Checkpoint written: {head.sequence} events" in out.getvalue()


def test_an_untouched_database_verifies_against_its_checkpoints(checkpointed_demo):
    record_event(action="login.failed", actor=Actor.system("dashboard"))

    code, out = verify("--strict")

    assert code == 0
    assert f"intact: {checkpointed_demo + 1} events" in out
    assert f"agrees with 1 signed checkpoints, the newest covering {checkpointed_demo} events" in out


def test_without_a_checkpoint_verification_says_so_and_strict_fails():
    call_command("seed_demo")

    assert verify()[0] == 0 and "no checkpoint exists yet" in verify()[1]
    code, message = verify("--strict")
    assert code == 1 and "Audit chain unproven: no checkpoint exists yet" in message


def test_a_forged_append_with_a_moved_head_is_found_at_its_sequence(checkpointed_demo):
    forged = forge_append(action="migration.signed_off", payload={"step": "legal review", "decision": "approve"})

    code, message = verify()

    assert code == 1
    assert message.startswith(f"Audit chain broken at sequence {forged.sequence}: its signature does not verify")


def test_a_truncation_below_a_checkpoint_is_found(checkpointed_demo):
    cut_off_last(3)

    code, message = verify()

    assert code == 1
    assert message.startswith(f"Audit chain broken at sequence {checkpointed_demo - 2}: the checkpoint of ")
    assert f"covers {checkpointed_demo} events but the database holds {checkpointed_demo - 3}" in message


def test_a_rewrite_with_every_later_hash_recomputed_is_found_at_the_rewritten_event(checkpointed_demo):
    rewrite(5, {"reason": "nothing to see here"})

    code, message = verify()

    assert code == 1
    assert message.startswith("Audit chain broken at sequence 5: its signature does not verify")


def test_a_rewrite_before_a_checkpoint_is_found_even_with_the_events_signed_anew(checkpointed_demo):
    """Were the key ever stolen, a re-signed rewrite still disagrees with the checkpoints signed before."""
    rewrite(5, {"reason": "nothing to see here"})
    with transaction.atomic():
        resign_everything_with(keys.signing_key())

    code, message = verify()

    assert code == 1
    assert f"Audit chain broken at sequence {checkpointed_demo}: the first {checkpointed_demo} events differ" in message


def resign_everything_with(key: Ed25519PrivateKey) -> None:
    with as_database_superuser():
        for event in AuditEvent.objects.all():
            AuditEvent.objects.filter(pk=event.pk).update(signature=proofs.sign_event_hash(key, event.hash))


def test_a_checkpoint_file_not_signed_by_the_audit_key_fails_verification(checkpointed_demo, audit_checkpoint_dir):
    head = AuditChainHead.objects.get(pk=1)
    impostor = proofs.Checkpoint(
        tree_size=head.sequence + 5,
        root_hash="00" * 32,
        head_hash=head.hash,
        timestamp="2026-12-06T00:00:00+00:00",
        key_id=proofs.key_id(keys.public_key()),
    ).signed_with(Ed25519PrivateKey.generate())
    (audit_checkpoint_dir / "999999999999-impostor.json").write_text(impostor.to_json())

    code, message = verify()

    assert code == 1
    assert "checkpoint 999999999999-impostor.json is not signed by the audit key" in message


def test_no_checkpoint_is_signed_over_a_chain_that_does_not_verify(checkpointed_demo, audit_checkpoint_dir):
    forge_append(action="migration.signed_off", payload={})

    with pytest.raises(CommandError, match="No checkpoint written: event [0-9]+ is not signed by the audit key"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert len(list(audit_checkpoint_dir.iterdir())) == 1


def test_beat_writes_a_checkpoint_only_when_events_were_added(checkpointed_demo, audit_checkpoint_dir):
    assert checkpoints.checkpoint_if_due() is None

    record_event(action="login.failed", actor=Actor.system("dashboard"))
    written = checkpoints.checkpoint_if_due()

    assert written.tree_size == checkpointed_demo + 1
    assert len(list(audit_checkpoint_dir.iterdir())) == 2
    assert checkpoints.checkpoint_if_due() is None


def test_every_event_is_signed_with_the_audit_key():
    call_command("seed_demo")
    public_key = keys.public_key()

    assert all(
        proofs.event_signature_holds(public_key, event.hash, event.signature) for event in AuditEvent.objects.all()
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditchainhead SET sequence = sequence - 1",
        "UPDATE audit_auditchainhead SET sequence = sequence + 1",
        "DELETE FROM audit_auditchainhead",
    ],
)
def test_the_application_cannot_move_the_chain_head_back_or_over_a_gap_or_delete_it(statement):
    call_command("seed_demo")
    # The guard refuses whoever asks; the restricted role of docs/database-roles.md is refused DELETE before it.
    refused = "audit chain head|permission denied"
    with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert verify()[0] == 0


def test_no_checkpoint_is_signed_over_events_rewritten_since_the_last_one(checkpointed_demo, audit_checkpoint_dir):
    rewrite(5, {"reason": "nothing to see here"})
    with transaction.atomic():
        resign_everything_with(keys.signing_key())

    with pytest.raises(CommandError, match=f"the first {checkpointed_demo} events no longer match the checkpoint"):
        call_command("audit_checkpoint", stdout=io.StringIO())


def test_by_default_the_events_a_checkpoint_covers_stand_on_its_signature_and_full_checks_each_one(
    checkpointed_demo,
):
    record_event(action="login.failed", actor=Actor.system("dashboard"))

    default, full = verify(), verify("--full")

    assert default[0] == full[0] == 0
    assert f"Events 1 to {checkpointed_demo} rebuild that checkpoint's signed Merkle root" in default[1]
    assert "the signatures of the 1 after it were checked" in default[1]
    assert "Every event's signature was checked." in full[1]


def test_an_edited_event_under_a_checkpoint_with_its_hash_left_as_it_was_is_found(checkpointed_demo):
    """The stored hashes alone still rebuild the root; the hash recomputed from the edited contents does not."""
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=5).update(payload={"reason": "nothing to see here"})

    code, message = verify()

    assert code == 1
    assert message.startswith("Audit chain broken at sequence 5: its contents do not match its hash")


def test_a_damaged_signature_under_a_checkpoint_is_found_by_full_only(checkpointed_demo):
    """What the default walk leaves out: the checkpoint proves the events' contents, not their signature column."""
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=5).update(signature=AuditEvent.objects.get(sequence=6).signature)

    assert verify()[0] == 0
    code, message = verify("--full")
    assert code == 1
    assert message.startswith("Audit chain broken at sequence 5: its signature does not verify")


def edit_a_body(sequence: int) -> None:
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=sequence).update(payload={"reason": "nothing to see here"})


def rewrite_and_resign(sequence: int) -> None:
    rewrite(sequence, {"reason": "nothing to see here"})
    with transaction.atomic():
        resign_everything_with(keys.signing_key())


def write_a_foreign_checkpoint(directory) -> None:
    impostor = proofs.Checkpoint(
        tree_size=1, root_hash="00" * 32, head_hash="00" * 32, timestamp="2026-12-06T00:00:00+00:00", key_id="x"
    ).signed_with(Ed25519PrivateKey.generate())
    (directory / "999999999999-impostor.json").write_text(impostor.to_json())


ATTACKS = {
    "forged append": lambda directory: forge_append(action="migration.signed_off", payload={}),
    "truncation": lambda directory: cut_off_last(3),
    "full recompute": lambda directory: rewrite(5, {"reason": "nothing to see here"}),
    "full recompute, re-signed": lambda directory: rewrite_and_resign(5),
    "foreign checkpoint": write_a_foreign_checkpoint,
    "edited body": lambda directory: edit_a_body(5),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_default_walk_finds_every_attack_before_any_walk_in_full(
    checkpointed_demo, audit_checkpoint_dir, monkeypatch, attack
):
    """A broken chain is walked again in full to name its first bad sequence; the quick walk must fail first."""
    record_event(action="login.failed", actor=Actor.system("dashboard"))
    ATTACKS[attack](audit_checkpoint_dir)
    walks = []
    walked = verification._walked

    def recorded(signed, *, chunk_size, signatures_after):
        walks.append((signatures_after, walked(signed, chunk_size=chunk_size, signatures_after=signatures_after)))
        return walks[-1][1]

    monkeypatch.setattr(verification, "_walked", recorded)

    assert not verification.verify_chain().intact
    if walks:  # a foreign checkpoint is refused before any walk
        quick, result = walks[0]
        assert quick == checkpointed_demo and not result.intact
