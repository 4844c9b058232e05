"""Migration plans' news for the project's webhooks and chat: review requests, decisions, rollout moves.

Hears `snapshot_migrations.events` (connected in `receivers.py`), inside the plan action's transaction, so
the deliveries are written with it and sent once it commits. Every message says who did what, in which
project and environment, from which snapshot to which, and links to the plan.
"""

from governance.audit.services import Actor
from governance.lifecycle.chat import ChatMessage, absolute_url, written
from governance.lifecycle.services import enqueue_webhooks
from governance.snapshot_migrations.models import ChecklistStep, MigrationPlan
from governance.snapshot_migrations.services import approvals, duration_words, plan_url


def announce_review_request(*, plan: MigrationPlan, steps: list[ChecklistStep], actor: Actor, why: str) -> None:
    """`plan.review_requested`: the steps still waiting for sign-offs, each with the role it needs."""
    waiting = [_step_needs(step) for step in steps]
    message = ChatMessage(
        title=f"Review requested: {_where(plan)}, {plan.from_snapshot} → {plan.to_snapshot}",
        text=f"{why} Waiting for sign-offs:",
        items=tuple(need["words"] for need in waiting),
        **_about(plan, actor, "Review the plan"),
    )
    steps_data = [{key: value for key, value in need.items() if key != "words"} for need in waiting]
    data = {**_plan_data(plan, actor), "why": why, "steps": steps_data}
    enqueue_webhooks(plan.project, "plan.review_requested", data, message)


def announce_decision(*, plan: MigrationPlan, actor: Actor, decision: str, step, comment: str) -> None:
    """`plan.approved` (the checklist's last sign-off) or `plan.rejected` (a step rejected, with the comment)."""
    if decision == "rejected":
        text = f"{actor.label} rejected “{step.title}”: {written(comment)}"
        extra = {"step": step.title, "comment": comment}
    else:
        text = f"{actor.label} gave the last sign-off the checklist needed; the plan may now be rolled out."
        extra = {}
    message = ChatMessage(
        title=f"Plan {decision}: {_where(plan)}, {plan.from_snapshot} → {plan.to_snapshot}",
        text=text,
        **_about(plan, actor, "Open the plan"),
    )
    enqueue_webhooks(plan.project, f"plan.{decision}", {**_plan_data(plan, actor), **extra}, message)


def announce_rollout_move(*, plan: MigrationPlan, actor: Actor, move: str, percent: int | None, reason: str) -> None:
    """`rollout.started`, `rollout.advanced`, `rollout.completed` or `rollout.rolled_back`."""
    title, text = _move_words(plan, actor, move, percent, reason)
    message = ChatMessage(title=title, text=text, **_about(plan, actor, "Open the plan"))
    data = {**_plan_data(plan, actor), "percent": percent, **({"reason": reason} if reason else {})}
    enqueue_webhooks(plan.project, f"rollout.{move}", data, message)


def _move_words(plan: MigrationPlan, actor: Actor, move: str, percent: int | None, reason: str) -> tuple[str, str]:
    where, to = _where(plan), plan.to_snapshot
    if move == "started":
        window = duration_words(plan.observation_window)
        return (
            f"Rollout started: {where}, {percent}% to {to}",
            f"{actor.label} started the rollout: {percent}% of requests now go to {to}, observed for {window}.",
        )
    if move == "advanced":
        return (
            f"Rollout advanced: {where}, {percent}% to {to}",
            f"{actor.label} advanced the rollout: {percent}% of requests now go to {to}.",
        )
    if move == "completed":
        return (
            f"Rollout completed: {where} now runs {to}",
            f"{actor.label} completed the rollout: every request now goes to {to}.",
        )
    back = plan.from_snapshot
    return (
        f"Rolled back: {where} is back on {back}",
        f"Rolled back by {actor.label} at {percent}%: {written(reason)} Every request goes to {back} again.",
    )


def _step_needs(step: ChecklistStep) -> dict:
    """What a step still needs, as data and in words: “Business acceptance”: 2 more sign-offs, role approver."""
    left = max(step.minimum_sign_offs - len({s.user_id for s in approvals(step)}), 1)
    named = [user.get_username() for user in step.approvers.all()]
    sign_offs = f"{left} more sign-off{'s' if left != 1 else ''}"
    who = f"{', '.join(named)} (the {step.required_role} role)" if named else f"the {step.required_role} role or above"
    return {
        "step": step.title,
        "required_role": step.required_role,
        "sign_offs_needed": left,
        "approvers": named,
        "words": f"“{step.title}”: {sign_offs}, needs {who}",
    }


def _where(plan: MigrationPlan) -> str:
    return f"{plan.project.name} / {plan.environment.get_name_display()}"


def _about(plan: MigrationPlan, actor: Actor, link_label: str) -> dict:
    """The parts every plan message shares: the facts, who, and the link to the plan."""
    facts = (
        ("Project", plan.project.name),
        ("Environment", plan.environment.get_name_display()),
        ("From", _snapshot_at(plan.from_snapshot, plan.from_provider)),
        ("To", _snapshot_at(plan.to_snapshot, plan.to_provider)),
        ("Reason", written(plan.reason)),
    )
    return {"facts": facts, "by": actor.label, "link": absolute_url(plan_url(plan)), "link_label": link_label}


def _snapshot_at(snapshot: str, provider) -> str:
    return f"{snapshot} ({provider.name})" if provider is not None else snapshot


def _plan_data(plan: MigrationPlan, actor: Actor) -> dict:
    """What a signed webhook is sent about a plan: names as in the API, and the plan's page."""
    return {
        "project": plan.project.slug,
        "environment": plan.environment.name,
        "plan": plan.pk,
        "from": plan.from_snapshot,
        "to": plan.to_snapshot,
        "state": plan.state,
        "actor": actor.label,
        "url": absolute_url(plan_url(plan)),
    }
