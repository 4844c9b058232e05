"""Policy as code: a project's environments as a YAML file, exported, compared with what is in force, applied.

`export_project` writes the file. `plan_changes` reads one and says, per environment, what differs from
what is in force, in the Policy editor's words (`policies.descriptions`), after checking the file's shape
(`schema`) and each changed policy by the editor's own rules (`PolicyForm`, then `validate_policy`).
`apply_changes` writes the differences in one transaction, after all of them passed: a policy revision
through `revise_policy` (and the rate limit through `set_rate_limit`) where the environment is unprotected or
has no policy yet; a migration plan draft through `create_plan` where it is protected, changing nothing there.
The management command `governance` and the management API call these. Schema: docs/policy-as-code.md.
"""

from dataclasses import dataclass, field
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from governance.audit.services import Actor, record_event
from governance.catalog.models import Provider
from governance.catalog.selectors import CatalogRows
from governance.policies.descriptions import FieldChange, describe_policy, revision_diff
from governance.policies.forms import PolicyForm
from governance.policies.models import PolicyRevision
from governance.policies.services import revise_policy, validate_policy
from governance.policy_files.export import policy_file_text
from governance.policy_files.schema import (
    EnvironmentSpec,
    FileError,
    PolicyFileInvalid,
    did_you_mean,
    file_sha256,
    read_policy_file,
)
from governance.projects import permissions
from governance.projects.models import Environment, EnvironmentName, Project
from governance.projects.services import set_rate_limit
from governance.snapshot_migrations.models import MigrationPlan
from governance.snapshot_migrations.services import allowed_after_move, create_plan

DEFAULT_FILE_NAME = "policy.yaml"
# Where each Policy editor field is in a policy file, for line-numbered errors.
FIELD_PATHS = {
    "provider": "provider",
    "default_model": "pin",
    "allowed_snapshots": "allowed_snapshots",
    "alias_requests": "alias_requests",
    "canary_snapshot": "canary.snapshot",
    "canary_percent": "canary.percent",
    "canary_provider": "canary.provider",
    "canary_provider_id": "canary.provider",
    "max_seconds": "limits.max_seconds",
    "allowed_sizes": "limits.sizes",
    "allowed_features": "limits.features",
    "monthly_budget": "budget",
    "allowed_operations": "operations",
}
CANARY_FIELDS = {"canary_snapshot", "canary_percent", "canary_provider"}
RATE_LIMIT_LABEL = "Rate limit"


class ApplyRefused(Exception):
    """The file may be fine, but this user may not apply it, or gave no reason; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PinMove:
    """The part of a protected environment's change that a migration plan carries."""

    from_snapshot: str
    to_snapshot: str
    to_provider: Provider


@dataclass
class EnvironmentChange:
    """One environment the file names: what is in force, what the file says, and how `apply` would get there."""

    environment: Environment
    spec: EnvironmentSpec
    current: PolicyRevision | None
    proposed: PolicyRevision  # the file's policy as an unsaved revision
    policy_changes: list[FieldChange]  # empty when the policy is the same, or is the environment's first
    rate_limit: tuple[int, int] | None  # (in force, in the file), when they differ
    first_policy_words: list[str] = field(default_factory=list)  # the file's policy, when the environment has none
    move: PinMove | None = None  # through a plan: the move of the pinned snapshot in the change, if any
    carried: set[str] = field(default_factory=set)  # through a plan: fields a completed plan leaves as the file says
    open_plans: list[MigrationPlan] = field(default_factory=list)  # through a plan: open plans proposing `move`

    @property
    def is_first_policy(self) -> bool:
        return self.current is None

    @property
    def through_plan(self) -> bool:
        """A protected environment with a policy changes only through a migration plan (`revise_policy`'s rule)."""
        return self.environment.protected and self.current is not None

    @property
    def policy_differs(self) -> bool:
        return self.is_first_policy or bool(self.policy_changes)

    @property
    def differs(self) -> bool:
        return self.policy_differs or self.rate_limit is not None

    @property
    def not_carried(self) -> list[FieldChange]:
        """Through a plan: the changes a migration plan does not make (the rate limit aside)."""
        return [change for change in self.policy_changes if change.field not in self.carried]


@dataclass
class Plan:
    """What applying a policy file would change; `errors` non-empty means it would change nothing."""

    project: Project
    file_name: str
    sha256: str
    changes: list[EnvironmentChange] = field(default_factory=list)  # each environment the file names
    not_in_file: list[Environment] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)

    @property
    def differing(self) -> list[EnvironmentChange]:
        return [change for change in self.changes if change.differs]

    @property
    def differs(self) -> bool:
        return bool(self.differing)


@dataclass
class EnvironmentOutcome:
    """What `apply` did to one environment that differed."""

    change: EnvironmentChange
    revision: PolicyRevision | None = None
    rate_limit_set: bool = False
    draft: MigrationPlan | None = None  # opened by this apply
    proposed_by: MigrationPlan | None = None  # an open plan that already proposed the move

    @property
    def wrote(self) -> bool:
        return self.revision is not None or self.rate_limit_set or self.draft is not None


@dataclass
class Applied:
    plan: Plan
    outcomes: list[EnvironmentOutcome]


# Export


def export_project(project: Project) -> str:
    """The project's policies in force as a policy file: every environment with a policy, every key."""
    environments = _ordered_environments(project)
    return policy_file_text(project, [(environment, _revision_in_force(environment)) for environment in environments])


# Plan


def project_of_file(text: str) -> Project:
    """The project a policy file names (its `project:` key), or PolicyFileInvalid saying why not."""
    policy_file = read_policy_file(text)
    project = Project.objects.filter(slug=policy_file.project).first()
    if project is None:
        slugs = Project.objects.values_list("slug", flat=True)
        message = f"no project '{policy_file.project}' here{did_you_mean(policy_file.project, slugs)}"
        raise PolicyFileInvalid([FileError(policy_file.project_line, "project", message)])
    return project


def plan_changes(project: Project, text: str, *, file_name: str = DEFAULT_FILE_NAME) -> Plan:
    """Every difference between the file and what is in force in `project`, or the file's errors."""
    plan = Plan(project=project, file_name=file_name, sha256=file_sha256(text))
    try:
        policy_file = read_policy_file(text)
    except PolicyFileInvalid as invalid:
        plan.errors = invalid.errors
        return plan
    if policy_file.project != project.slug:
        message = f"this file is for project '{policy_file.project}', not '{project.slug}'"
        plan.errors.append(FileError(policy_file.project_line, "project", message))
    environments = {environment.name: environment for environment in _ordered_environments(project)}
    named = set()
    for spec in policy_file.environments:
        named.add(spec.name)
        environment = environments.get(spec.name)
        if environment is None:
            has = ", ".join(environments) or "none"
            plan.errors.append(spec.error("", f"project {project.slug} has no such environment (it has {has})"))
            continue
        change, errors = _compare(environment, spec)
        plan.errors += errors
        if change is not None:
            plan.changes.append(change)
    plan.changes.sort(key=lambda change: list(environments).index(change.environment.name))
    plan.not_in_file = [environment for name, environment in environments.items() if name not in named]
    plan.errors.sort(key=lambda error: error.line)
    return plan


def _compare(environment: Environment, spec: EnvironmentSpec) -> tuple[EnvironmentChange | None, list[FileError]]:
    errors = []
    if spec.protected is not None and spec.protected != environment.protected:
        said = "true" if environment.protected else "false"
        errors.append(spec.error("protected", f"is {said} for {environment}; it is set in the admin, not by a file"))
    provider = _provider(spec, "provider", spec.provider, errors)
    canary_provider = _provider(spec, "canary.provider", spec.canary_provider, errors) if spec.canary_provider else None
    if provider is None or errors:
        return None, errors
    current = _revision_in_force(environment)
    proposed = _proposed_revision(environment, spec, provider, canary_provider, current)
    rate_limit = None
    if spec.rate_limit != environment.rate_limit_per_minute:
        rate_limit = (environment.rate_limit_per_minute, spec.rate_limit)
    change = EnvironmentChange(
        environment=environment,
        spec=spec,
        current=current,
        proposed=proposed,
        policy_changes=revision_diff(current, proposed).changes if current is not None else [],
        rate_limit=rate_limit,
    )
    if not change.policy_differs:
        return change, []
    errors = _policy_errors(spec, proposed)
    if errors:
        return None, errors
    if change.is_first_policy:
        change.first_policy_words = describe_policy(environment, proposed, CatalogRows.load(provider.pk))
    if change.through_plan:
        change.move = _pin_move(current, proposed)
        change.carried = _carried(current, proposed, change.move)
        change.open_plans = _open_plans_proposing(environment, change.move)
    return change, []


def _provider(spec: EnvironmentSpec, key: str, slug: str, errors: list[FileError]) -> Provider | None:
    provider = Provider.objects.filter(slug=slug).first()
    if provider is None:
        slugs = list(Provider.objects.values_list("slug", flat=True))
        errors.append(spec.error(key, f"no provider '{slug}' in the catalog{did_you_mean(slug, slugs)}"))
    return provider


def _proposed_revision(
    environment: Environment,
    spec: EnvironmentSpec,
    provider: Provider,
    canary_provider: Provider | None,
    current: PolicyRevision | None,
) -> PolicyRevision:
    """The file's policy as the revision `apply` would write (never saved here); a canary at the policy's own
    provider names none, as `revise_policy` stores it."""
    if not spec.canary_snapshot or canary_provider == provider:
        canary_provider = None
    return PolicyRevision(
        environment=environment,
        number=current.number + 1 if current is not None else 1,
        provider=provider,
        default_model=spec.pin,
        allowed_snapshots=spec.allowed_snapshots,
        alias_requests=spec.alias_requests,
        canary_snapshot=spec.canary_snapshot,
        canary_provider=canary_provider,
        canary_percent=spec.canary_percent,
        max_seconds=spec.max_seconds,
        allowed_sizes=spec.sizes,
        allowed_features=spec.features,
        monthly_budget=spec.budget,
        allowed_operations=spec.operations,
    )


def _policy_errors(spec: EnvironmentSpec, proposed: PolicyRevision) -> list[FileError]:
    """A changed policy passes what a new revision from the Policy editor passes: the form's parsing (the
    catalog's names, no shut-down snapshot) and then the service's own `validate_policy`."""
    provider, canary_provider = proposed.provider, proposed.canary_provider
    others = {canary_provider: CatalogRows.load(canary_provider.pk)} if canary_provider is not None else {}
    form = PolicyForm(
        _form_data(proposed),
        catalog=CatalogRows.load(provider.pk),
        now=timezone.now(),
        other_catalogs=others,
    )
    if not form.is_valid():
        return [
            spec.error(FIELD_PATHS.get(name, ""), message)
            for name, messages in form.errors.items()
            for message in messages
        ]
    try:
        validate_policy(provider, form.policy_values())
    except ValidationError as error:
        return _file_errors(spec, error)
    return []


def _form_data(proposed: PolicyRevision) -> MultiValueDict:
    """The file's policy as the Policy editor would send it."""
    canary = proposed.canary_snapshot
    if canary and proposed.canary_provider is not None:
        canary = f"{proposed.canary_provider.slug}:{canary}"
    data = {
        "default_model": [proposed.default_model],
        "allowed_snapshots": list(proposed.allowed_snapshots),
        "alias_requests": [proposed.alias_requests],
        "canary_snapshot": [canary],
        "canary_percent": [str(proposed.canary_percent)],
        "allowed_sizes": list(proposed.allowed_sizes or []),
        "allowed_features": list(proposed.allowed_features or []),
        "allowed_operations": list(proposed.allowed_operations or []),
        "reason": ["a policy file"],  # the reason is apply's; the form only needs one to parse
    }
    if proposed.max_seconds is not None:
        data["max_seconds"] = [str(proposed.max_seconds)]
    if proposed.monthly_budget is not None:
        data["monthly_budget"] = [str(proposed.monthly_budget)]
    return MultiValueDict(data)


def _file_errors(spec: EnvironmentSpec, error: ValidationError) -> list[FileError]:
    if not hasattr(error, "error_dict"):
        return [spec.error("", message) for message in error.messages]
    return [
        spec.error(FIELD_PATHS.get(name, ""), message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _pin_move(current: PolicyRevision, proposed: PolicyRevision) -> PinMove | None:
    """The pinned snapshot's move, resolved through aliases as `create_plan` reads it; None if it stays."""
    running = CatalogRows.load(current.provider_id).resolve(current.default_model) or current.default_model
    target = CatalogRows.load(proposed.provider.pk).resolve(proposed.default_model)
    if target is None or (target == running and proposed.provider.pk == current.provider_id):
        return None
    return PinMove(from_snapshot=running, to_snapshot=target, to_provider=proposed.provider)


def _carried(current: PolicyRevision, proposed: PolicyRevision, move: PinMove | None) -> set[str]:
    """The fields in which the policy a completed plan leaves (`snapshot_migrations.services._complete`) is the
    file's: the pin and provider it moves to, the allowed snapshots it leaves, no canary."""
    if move is None:
        return set()
    carried = {"provider"}
    if proposed.default_model == move.to_snapshot:
        carried.add("default_model")
    crosses = move.to_provider.pk != current.provider_id
    after = allowed_after_move(
        current.allowed_snapshots, move.from_snapshot, move.to_snapshot, crosses_providers=crosses
    )
    if sorted(after) == sorted(proposed.allowed_snapshots):
        carried.add("allowed_snapshots")
    if not proposed.canary_snapshot:
        carried |= CANARY_FIELDS
    return carried


def _open_plans_proposing(environment: Environment, move: PinMove | None) -> list[MigrationPlan]:
    if move is None:
        return []
    plans = MigrationPlan.objects.filter(
        environment=environment,
        state__in=MigrationPlan.OPEN,
        to_snapshot=move.to_snapshot,
        to_provider=move.to_provider,
    )
    return list(plans.order_by("pk"))


# Apply


def apply_changes(project: Project, text: str, *, user, reason: str, file_name: str = DEFAULT_FILE_NAME) -> Applied:
    """Write every difference the file makes, or nothing: PolicyFileInvalid lists what is wrong with the file.

    Unprotected environments (and any environment without a policy yet) get a policy revision and their rate
    limit; a protected one gets a migration plan draft that moves its pinned snapshot, and nothing else. Run
    as `user`, who needs the role that edits policies. One transaction for all of it, with an audit event
    naming the file.
    """
    if not permissions.may(user, project, permissions.EDIT_POLICY):
        role = permissions.role_needed(permissions.EDIT_POLICY)
        raise ApplyRefused(f"{user} may not apply a policy file to {project.slug}: that needs {role}.")
    if not reason.strip():
        raise ApplyRefused("Say why the policies change (--reason): the reason is kept with every revision.")
    file_name = PurePath(file_name).name[:200] or DEFAULT_FILE_NAME
    with transaction.atomic():
        plan = plan_changes(project, text, file_name=file_name)
        if plan.errors:
            raise PolicyFileInvalid(plan.errors)
        outcomes = [_apply(change, plan, user=user, reason=reason.strip()) for change in plan.differing]
        if any(outcome.wrote for outcome in outcomes):
            _audit_apply(plan, outcomes, user=user, reason=reason.strip())
    return Applied(plan=plan, outcomes=outcomes)


def _apply(change: EnvironmentChange, plan: Plan, *, user, reason: str) -> EnvironmentOutcome:
    outcome = EnvironmentOutcome(change=change)
    if change.through_plan:
        if change.move is not None and change.open_plans:
            outcome.proposed_by = change.open_plans[0]
        elif change.move is not None:
            outcome.draft = _open_draft(change, plan, user=user, reason=reason)
        return outcome
    actor = Actor.for_user(user)
    if change.policy_differs:
        try:
            outcome.revision = revise_policy(
                environment=change.environment,
                provider=change.proposed.provider,
                actor=actor,
                reason=reason,
                created_by=user,
                source_file=plan.file_name,
                source_sha256=plan.sha256,
                **_policy_values(change.proposed),
            )
        except ValidationError as error:
            raise PolicyFileInvalid(_file_errors(change.spec, error)) from None
    if change.rate_limit is not None:
        set_rate_limit(environment=change.environment, per_minute=change.rate_limit[1], actor=actor)
        outcome.rate_limit_set = True
    return outcome


def _policy_values(revision: PolicyRevision) -> dict:
    return {
        "default_model": revision.default_model,
        "allowed_snapshots": revision.allowed_snapshots,
        "alias_requests": revision.alias_requests,
        "canary_snapshot": revision.canary_snapshot,
        "canary_provider_id": revision.canary_provider.pk if revision.canary_provider is not None else None,
        "canary_percent": revision.canary_percent,
        "max_seconds": revision.max_seconds,
        "allowed_sizes": revision.allowed_sizes,
        "allowed_features": revision.allowed_features,
        "monthly_budget": revision.monthly_budget,
        "allowed_operations": revision.allowed_operations,
    }


def _open_draft(change: EnvironmentChange, plan: Plan, *, user, reason: str) -> MigrationPlan:
    """A draft plan moving the pinned snapshot as the file says, with the project's checklist and default stages.

    The plan model holds a move from one snapshot to another, so that is what the draft carries; its reason
    names the file and lists every other change of the file that it does not carry.
    """
    move = change.move
    words = (
        f"{reason}\n\nOpened by `governance apply` from the policy file {plan.file_name} "
        f"(sha256 {plan.sha256}): it moves {change.environment} from {move.from_snapshot} to "
        f"{move.to_snapshot} at {move.to_provider.name}."
    )
    others = [words_of(field_change) for field_change in change.not_carried]
    if change.rate_limit is not None:
        others.append(rate_limit_words(change.rate_limit))
    if others:
        words += " The file also changes what a migration plan does not carry: " + "; ".join(others) + "."
    try:
        return create_plan(
            environment=change.environment,
            to_snapshot=move.to_snapshot,
            to_provider=move.to_provider,
            reason=words,
            author=user,
        )
    except ValidationError as error:
        raise PolicyFileInvalid(_file_errors(change.spec, error)) from None


def _audit_apply(plan: Plan, outcomes: list[EnvironmentOutcome], *, user, reason: str) -> None:
    record_event(
        action="policy_file.applied",
        actor=Actor.for_user(user),
        target=plan.project,
        project=plan.project,
        payload={
            "file": plan.file_name,
            "sha256": plan.sha256,
            "reason": reason,
            "revisions": {o.change.environment.name: o.revision.number for o in outcomes if o.revision},
            "rate_limits": {o.change.environment.name: o.change.rate_limit[1] for o in outcomes if o.rate_limit_set},
            "plans_opened": {o.change.environment.name: o.draft.pk for o in outcomes if o.draft},
            "not_carried": {
                o.change.environment.name: [c.field for c in o.change.not_carried]
                + (["rate_limit"] if o.change.rate_limit else [])
                for o in outcomes
                if o.change.through_plan
            },
        },
    )


# Words shared by the command's output and the plan's reason


def words_of(change: FieldChange) -> str:
    """`Canary share of requests: 10% → 20%`, with what a list gained and lost."""
    words = f"{change.label}: {change.before} → {change.after}"
    items = [f"added {item}" for item in change.added] + [f"removed {item}" for item in change.removed]
    return words + (f" ({', '.join(items)})" if items else "")


def rate_limit_words(rate_limit: tuple[int, int]) -> str:
    before, after = (_per_minute(value) for value in rate_limit)
    return f"{RATE_LIMIT_LABEL}: {before} → {after}"


def _per_minute(value: int) -> str:
    return f"{value} requests per minute per key" if value else "no rate limit"


def _ordered_environments(project: Project) -> list[Environment]:
    order = list(EnvironmentName.values)
    return sorted(project.environments.select_related("project"), key=lambda environment: order.index(environment.name))


def _revision_in_force(environment: Environment) -> PolicyRevision | None:
    return environment.policy_revisions.select_related("provider", "canary_provider").order_by("-number").first()
