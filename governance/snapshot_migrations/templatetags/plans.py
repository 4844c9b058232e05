import datetime as dt

from django import template

from governance.snapshot_migrations.selectors import awaiting_count
from governance.snapshot_migrations.services import duration_words

register = template.Library()

EVENT_WORDS = {
    "migration.plan_created": "created the plan",
    "migration.plan_edited": "edited the plan",
    "migration.evidence_updated": "updated evidence",
    "migration.signed_off": "signed off",
    "migration.refused": "was refused",
    "migration.state_changed": "changed the state",
    "migration.rollout_advanced": "advanced the rollout",
    "migration.window_overridden": "overrode the observation window",
    "migration.health_gate_failed": "reported a failing health gate",
    "migration.comparison_run": "ran a comparison",
    "migration.comparison_judged": "judged a comparison pair",
    "migration.rollback_skipped": "did not roll back",
    "migration.sign_off_withdrawn": "withdrew a sign-off",
}
DECISION_WORDS = {"approve": "approved", "reject": "rejected"}


@register.simple_tag
def awaiting_sign_off_count(user) -> int:
    """How many plans await this user's sign-off, for the header's Approvals link."""
    return awaiting_count(user)


@register.filter
def get_item(mapping: dict, key: str):
    return (mapping or {}).get(key) or {}


@register.filter
def timeuntil_words(delta: dt.timedelta) -> str:
    return duration_words(delta)


@register.filter
def plan_event_words(event) -> str:
    """One timeline line: what happened, in words, with the detail that matters for that kind of event."""
    payload = event.payload or {}
    words = EVENT_WORDS.get(event.action, event.action)
    if event.action == "migration.state_changed":
        before, after = (str(payload.get(key, "")).replace("_", " ") for key in ("state_from", "state_to"))
        words = f"moved the plan from {before} to {after}"
        if payload.get("reason"):
            words += f": {payload['reason']}"
    elif event.action == "migration.signed_off":
        decided = DECISION_WORDS.get(payload.get("decision"), payload.get("decision"))
        words = f"{decided} “{payload.get('step')}”: {payload.get('comment')}"
    elif event.action == "migration.refused":
        words = f"tried to {payload.get('attempt')} and was refused: {payload.get('message')}"
    elif event.action == "migration.rollout_advanced":
        words = f"advanced the rollout to {payload.get('percent')}%"
    elif event.action == "migration.window_overridden":
        words = f"overrode the observation window ({payload.get('left')} left): {payload.get('reason')}"
    elif event.action in ("migration.evidence_updated", "migration.plan_edited") and payload.get("sign_offs_reset"):
        words += f" ({payload['sign_offs_reset']} sign-off(s) reset)"
    elif event.action == "migration.health_gate_failed":
        words += f": {payload.get('reason')}"
    elif event.action == "migration.sign_off_withdrawn":
        words = f"withdrew {payload.get('signer')}'s sign-off of “{payload.get('step')}”: {payload.get('why')}"
    elif event.action == "migration.rollback_skipped":
        words += f" after “{payload.get('reason')}”: {payload.get('why')}"
    elif event.action == "policy.revised":
        words = f"wrote policy revision {payload.get('revision')}: {payload.get('reason')}"
    elif event.action == "migration.comparison_judged":
        words = f"judged “{payload.get('prompt')}” {payload.get('verdict')}"
    return words
