"""`plan` and `apply` in words, line by line, for the terminal (the fields in the Policy editor's words)."""

from governance.policy_files.services import (
    Applied,
    EnvironmentChange,
    EnvironmentOutcome,
    Plan,
    rate_limit_words,
    words_of,
)
from governance.snapshot_migrations.services import plan_url

INDENT = "  "


def plan_report(plan: Plan) -> list[str]:
    """Per environment the file names: no difference, or each change and what `apply` would do with it."""
    lines = [f"Policy file {plan.file_name} (sha256 {plan.sha256}) against project {plan.project.slug}:", ""]
    for change in plan.changes:
        lines += _change_lines(change)
    if plan.not_in_file:
        names = ", ".join(environment.name for environment in plan.not_in_file)
        lines.append(f"Not in the file, so left as they are: {names}.")
    lines.append("")
    differing = len(plan.differing)
    if differing:
        verb = "differs" if differing == 1 else "differ"
        lines.append(f"{differing} of {len(plan.changes)} environments in the file {verb} from what is in force.")
    else:
        lines.append("No difference: the file says what is in force.")
    return lines


def apply_report(applied: Applied, *, user, reason: str) -> list[str]:
    plan = applied.plan
    lines = [f"Applied {plan.file_name} (sha256 {plan.sha256}) to project {plan.project.slug} as {user}: {reason}", ""]
    for outcome in applied.outcomes:
        lines += _outcome_lines(outcome)
    same = [change.environment.name for change in plan.changes if not change.differs]
    if same:
        lines.append(f"No difference, nothing written: {', '.join(same)}.")
    if not applied.outcomes:
        lines.append("Nothing to apply: the file says what is in force.")
    return lines


def _heading(change: EnvironmentChange) -> str:
    return f"{change.environment.name} (protected)" if change.environment.protected else change.environment.name


def _change_lines(change: EnvironmentChange) -> list[str]:
    name = _heading(change)
    if not change.differs:
        return [f"{name}: no difference."]
    if change.is_first_policy:
        lines = [f"{name}: has no policy yet; apply writes its first policy (revision 1):"]
        lines += [INDENT + sentence for sentence in change.first_policy_words]
        return lines + _rate_limit_lines(change)
    if not change.through_plan:
        count = len(change.policy_changes) + (1 if change.rate_limit else 0)
        then = f"apply writes revision {change.proposed.number}" if change.policy_differs else "apply sets it"
        lines = [f"{name}: {_changes(count)} from revision {change.current.number}, which is in force; {then}."]
        return lines + _field_lines(change)
    return _protected_lines(change)


def _protected_lines(change: EnvironmentChange) -> list[str]:
    count = len(change.policy_changes) + (1 if change.rate_limit else 0)
    name, number = _heading(change), change.current.number
    lines = [f"{name}: {_changes(count)} from revision {number}, which is in force:"]
    lines += _field_lines(change)
    move = change.move
    if move is None:
        lines.append(
            f"{INDENT}A protected environment changes only through a migration plan, and a plan moves the pinned "
            "snapshot, which this change leaves where it is: apply leaves this environment as it is."
        )
        return lines
    what = f"{move.from_snapshot} → {move.to_snapshot} at {move.to_provider.name}"
    if change.open_plans:
        plans = ", ".join(f"#{plan.pk} ({plan.get_state_display().lower()})" for plan in change.open_plans)
        lines.append(
            f"{INDENT}Migration plan {plans} proposes the move {what}; it is in force only once approved and "
            "rolled out. apply opens no other plan."
        )
    else:
        lines.append(f"{INDENT}apply changes nothing here: it opens a migration plan draft moving {what}.")
    return lines + _not_carried_lines(change)


def _not_carried_lines(change: EnvironmentChange) -> list[str]:
    left = [change.label for change in change.not_carried]
    if change.rate_limit:
        left.append("Rate limit")
    if not left:
        return [f"{INDENT}Once the plan completes, the environment is as the file says."]
    return [
        f"{INDENT}A plan moves the pinned snapshot only (its rollout ends with no canary); it does not carry: "
        f"{', '.join(left)}. These stay as they are."
    ]


def _field_lines(change: EnvironmentChange) -> list[str]:
    return [INDENT + words_of(field_change) for field_change in change.policy_changes] + _rate_limit_lines(change)


def _rate_limit_lines(change: EnvironmentChange) -> list[str]:
    return [INDENT + rate_limit_words(change.rate_limit)] if change.rate_limit else []


def _outcome_lines(outcome: EnvironmentOutcome) -> list[str]:
    change = outcome.change
    name = _heading(change)
    if not change.through_plan:
        done = []
        if outcome.revision is not None:
            done.append(f"wrote policy revision {outcome.revision.number}")
        if outcome.rate_limit_set:
            done.append("set the rate limit")
        return [f"{name}: {' and '.join(done)}."] + _field_lines(change)
    lines = [f"{name}: changed nothing."]
    if outcome.draft is not None:
        plan = outcome.draft
        stages = ", ".join(f"{stage}%" for stage in plan.stages)
        lines.append(
            f"{INDENT}Opened migration plan #{plan.pk} as a draft: {plan.from_snapshot} → {plan.to_snapshot} at "
            f"{plan.to_provider.name}, in stages of {stages}, with the project's checklist. It takes effect only "
            f"once submitted, signed off, approved and rolled out: {plan_url(plan)}"
        )
    elif outcome.proposed_by is not None:
        plan = outcome.proposed_by
        lines.append(
            f"{INDENT}Migration plan #{plan.pk} ({plan.get_state_display().lower()}) already proposes this move; "
            "no other plan opened."
        )
    else:
        lines.append(
            f"{INDENT}No migration plan can carry this change (a plan moves the pinned snapshot, which stays): "
            "left as it is."
        )
        return lines + _field_lines(change)
    return lines + _not_carried_lines(change)


def _changes(count: int) -> str:
    return f"{count} change{'s' if count != 1 else ''}"
