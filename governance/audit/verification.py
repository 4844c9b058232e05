"""The chain's state as the Audit page shows it, and verification run on an auditor's request."""

import datetime as dt
from dataclasses import dataclass

from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import GENESIS_HASH, Actor, ChainVerification, record_event, verify_chain

VERIFIED = "audit.verified"


@dataclass(frozen=True)
class VerificationResult:
    """One verification's outcome, as recorded in its `audit.verified` event."""

    intact: bool
    checked: int
    head_hash: str
    broken_at: int | None
    reason: str
    verified_at: dt.datetime | None = None
    verified_by: str = ""

    @property
    def summary(self) -> str:
        if self.intact:
            unit = "event" if self.checked == 1 else "events"
            return f"Intact: {self.checked} {unit} checked, every hash matches and links to the one before."
        return f"Broken at sequence {self.broken_at}: {self.reason}."

    @classmethod
    def of(cls, event: AuditEvent) -> "VerificationResult":
        payload = event.payload
        return cls(
            intact=bool(payload.get("intact")),
            checked=int(payload.get("checked", 0)),
            head_hash=str(payload.get("head_hash", "")),
            broken_at=payload.get("broken_at"),
            reason=str(payload.get("reason", "")),
            verified_at=event.occurred_at,
            verified_by=event.actor_label,
        )


@dataclass(frozen=True)
class ChainState:
    events: int
    head_sequence: int
    head_hash: str
    last_verification: VerificationResult | None


def chain_state() -> ChainState:
    head = AuditChainHead.objects.filter(pk=1).first()
    last = AuditEvent.objects.filter(action=VERIFIED).order_by("-sequence").first()
    return ChainState(
        events=AuditEvent.objects.count(),
        head_sequence=head.sequence if head else 0,
        head_hash=head.hash if head else GENESIS_HASH,
        last_verification=VerificationResult.of(last) if last is not None else None,
    )


def verify_and_record(*, actor: Actor) -> VerificationResult:
    """Walk the chain, then append an `audit.verified` event with the outcome, broken or not."""
    result: ChainVerification = verify_chain()
    event = record_event(
        action=VERIFIED,
        actor=actor,
        payload={
            "intact": result.intact,
            "checked": result.checked,
            "head_hash": result.head_hash,
            "broken_at": result.broken_at,
            "reason": result.reason,
        },
    )
    return VerificationResult.of(event)
