"""Writing policy revisions and spending budgets."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Round

from governance.audit.services import Actor, record_event
from governance.catalog.models import Provider, Snapshot
from governance.catalog.selectors import load_catalog_view
from governance.policies import engine
from governance.policies.models import BudgetLease, BudgetUsage, PolicyRevision
from governance.policies.selectors import current_revision, month_start
from governance.projects.models import Environment

POLICY_FIELDS = [
    "default_model",
    "allowed_snapshots",
    "alias_requests",
    "canary_snapshot",
    "canary_percent",
    "canary_provider_id",
    "max_seconds",
    "allowed_sizes",
    "allowed_features",
    "monthly_budget",
    "allowed_operations",
]


class ProtectedEnvironmentError(ValidationError):
    pass


def validate_policy(provider: Provider, values: dict) -> None:
    """Refuse a policy that names snapshots the provider lacks or contradicts itself."""
    catalog = load_catalog_view(provider.pk)
    errors: dict[str, str] = {}
    unknown = sorted(set(values["allowed_snapshots"]) - set(catalog.snapshots))
    if unknown:
        errors["allowed_snapshots"] = f"Not in {provider.name}'s catalog: {', '.join(unknown)}."
    pinned = catalog.resolve(values["default_model"])
    if pinned is None:
        errors["default_model"] = f"'{values['default_model']}' is neither a snapshot nor an alias of {provider.name}."
    elif pinned not in values["allowed_snapshots"]:
        errors["default_model"] = f"The pinned snapshot '{pinned}' must be among the allowed snapshots."
    canary = values.get("canary_snapshot") or ""
    canary_provider = _canary_provider(provider, values)
    canary_catalog = load_catalog_view(canary_provider.pk) if canary_provider != provider else catalog
    if canary and canary not in canary_catalog.snapshots:
        errors["canary_snapshot"] = f"'{canary}' is not in {canary_provider.name}'s catalog."
    if canary and canary == pinned and canary_provider == provider:
        errors["canary_snapshot"] = "The canary must differ from the pinned snapshot."
    if not canary and values.get("canary_percent"):
        errors["canary_percent"] = "A canary percentage needs a canary snapshot."
    if not 0 <= int(values.get("canary_percent") or 0) <= 100:
        errors["canary_percent"] = "Between 0 and 100."
    unknown_operations = sorted(set(values.get("allowed_operations") or []) - set(engine.OPERATIONS))
    if unknown_operations:
        errors["allowed_operations"] = f"Unknown operations: {', '.join(unknown_operations)}."
    _refuse_unreviewed(provider, values, pinned, errors, canary_provider)
    if errors:
        raise ValidationError(errors)


def _canary_provider(provider: Provider, values: dict) -> Provider:
    """The canary's provider: the policy's own unless another one is named."""
    canary_provider_id = values.get("canary_provider_id")
    if canary_provider_id in (None, provider.pk):
        return provider
    return Provider.objects.get(pk=canary_provider_id)


def _refuse_unreviewed(
    provider: Provider, values: dict, pinned: str | None, errors: dict[str, str], canary_provider: Provider
) -> None:
    """Snapshots a provider sync discovered run nowhere until an admin has reviewed them."""
    named = {
        "allowed_snapshots": set(values["allowed_snapshots"]),
        "default_model": {pinned} if pinned else set(),
    }
    everything = set().union(*named.values())
    unreviewed = set(
        Snapshot.objects.filter(provider=provider, name__in=everything, reviewed=False).values_list("name", flat=True)
    )
    canary = values.get("canary_snapshot")
    if canary and Snapshot.objects.filter(provider=canary_provider, name=canary, reviewed=False).exists():
        named["canary_snapshot"] = {canary}
        unreviewed.add(canary)
    for field, names in named.items():
        waiting = sorted(names & unreviewed)
        if waiting and field not in errors:
            errors[field] = (
                f"Awaiting an admin's review in the catalog before any policy may use it: {', '.join(waiting)}."
            )


@transaction.atomic
def revise_policy(
    *,
    environment,
    provider: Provider,
    actor: Actor,
    reason: str,
    created_by=None,
    through_plan=None,
    source_file: str = "",
    source_sha256: str = "",
    **values,
) -> PolicyRevision:
    """Write the environment's next policy revision and its audit event.

    A protected environment takes its first policy directly; after that only an
    approved migration plan (`through_plan`) may change it. A revision applied from a
    policy file names the file and its SHA-256 (`source_file`, `source_sha256`).
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the policy changes."})
    lock_policy(environment)
    previous = current_revision(environment)
    if environment.protected and previous is not None and through_plan is None:
        raise ProtectedEnvironmentError(
            f"{environment} is protected: its policy changes only through an approved migration plan."
        )
    if through_plan is not None and not through_plan.may_change_policy_of(environment):
        raise ProtectedEnvironmentError(f"This migration plan may not change {environment}'s policy now.")
    values = {field: values.get(field, getattr(previous, field, None)) for field in POLICY_FIELDS}
    values["canary_snapshot"] = values["canary_snapshot"] or ""
    values["canary_percent"] = values["canary_percent"] or 0
    if not values["canary_snapshot"] or values["canary_provider_id"] == provider.pk:
        values["canary_provider_id"] = None
    values["alias_requests"] = values["alias_requests"] or engine.ALIAS_REFUSE
    validate_policy(provider, values)
    revision = PolicyRevision.objects.create(
        environment=environment,
        number=(previous.number + 1) if previous else 1,
        provider=provider,
        reason=reason,
        created_by=created_by,
        written_by_plan=through_plan.pk if through_plan is not None else None,
        source_file=source_file,
        source_sha256=source_sha256,
        **values,
    )
    payload = {"revision": revision.number, "reason": reason, "changes": _diff(previous, revision)}
    if source_sha256:
        payload["policy_file"] = {"name": source_file, "sha256": source_sha256}
    record_event(
        action="policy.revised",
        actor=actor,
        target=revision,
        project=environment.project,
        environment=environment,
        payload=payload,
    )
    return revision


def lock_policy(environment) -> None:
    """Queue writers of one environment's policy on its row, so each reads the revision the one before it wrote.

    Without it, two revisions at once (two first policies, say) both read the same newest number and the
    second fails on the unique revision number. A caller that decides on the revision in force before it
    writes the next one takes it first, in its own transaction. On SQLite every transaction already holds
    the write lock.
    """
    list(Environment.objects.select_for_update().filter(pk=environment.pk).values_list("pk", flat=True))


def _diff(previous: PolicyRevision | None, revision: PolicyRevision) -> dict:
    fields = ["provider_id", *POLICY_FIELDS]
    return {
        field: {"from": getattr(previous, field, None), "to": getattr(revision, field)}
        for field in fields
        if previous is None or getattr(previous, field) != getattr(revision, field)
    }


def reserve_budget(*, environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal) -> bool:
    """Add `amount` to the month's spend if it stays within `budget`, counting what leases hold; atomic.

    One conditional UPDATE: on PostgreSQL concurrent reservations queue on the row
    lock and re-check the condition; on SQLite the write lock serialises them. The
    month's row is created only when the UPDATE finds none.
    """
    month = month_start(now)
    # Rounded as the columns are: SQLite adds them as floating point, where 78 + 21.6 > 99.6.
    within_budget = BudgetUsage.objects.alias(committed=Round(F("spent") + F("leased"), 4)).filter(
        environment_id=environment_id, month=month, committed__lte=budget - amount
    )
    if within_budget.update(spent=F("spent") + amount):
        return True
    BudgetUsage.objects.get_or_create(environment_id=environment_id, month=month)
    return within_budget.update(spent=F("spent") + amount) == 1


def budget_reservation(*, environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal) -> tuple[str, list]:
    """`reserve_budget`'s conditional UPDATE as SQL with RETURNING, for a statement that inserts what it pays for.

    It changes no row when the month's row is missing: `ensure_budget_month` makes it.
    """
    table = connection.ops.quote_name(BudgetUsage._meta.db_table)
    sql = (
        f"UPDATE {table} SET spent = spent + %s "
        "WHERE environment_id = %s AND month = %s AND spent + leased <= %s RETURNING 1"
    )
    return sql, [amount, environment_id, month_start(now), budget - amount]


def ensure_budget_month(*, environment_id: int, now: dt.datetime) -> bool:
    """Make the month's spend row if it is missing; True if it was made."""
    return BudgetUsage.objects.get_or_create(environment_id=environment_id, month=month_start(now))[1]


# A lease takes at most this share of what is left of the month's budget, so that the leases of every process
# together hold little of it, and each shrinks as the budget runs out.
LEASE_SHARE_OF_WHAT_IS_LEFT = 20
# A lease pays for whole submissions at the cost of the one that takes it, at most this many, and is worth taking
# only for at least the fewest: below that, each submission reserves on the spend row.
LEASE_MOST_SUBMISSIONS = 500
LEASE_FEWEST_SUBMISSIONS = 10


def take_budget_lease(
    *, environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal, seconds: float, holder: str
) -> BudgetLease | None:
    """Hold a slice of the month's budget for `seconds`, for a process to pay submissions of `amount` from; None
    if what is left is too little to share (the caller then reserves each submission on the spend row)."""
    month = month_start(now)
    with transaction.atomic():
        BudgetUsage.objects.get_or_create(environment_id=environment_id, month=month)
        usage = BudgetUsage.objects.select_for_update().get(environment_id=environment_id, month=month)
        left = budget - usage.spent - usage.leased
        submissions = min(int(left / LEASE_SHARE_OF_WHAT_IS_LEFT / amount), LEASE_MOST_SUBMISSIONS) if amount else 0
        if submissions < LEASE_FEWEST_SUBMISSIONS:
            return None
        size = amount * submissions
        BudgetUsage.objects.filter(pk=usage.pk).update(leased=F("leased") + size)
        return BudgetLease.objects.create(
            environment_id=environment_id,
            month=month,
            amount=size,
            taken_at=now,
            expires_at=now + dt.timedelta(seconds=seconds),
            holder=holder,
        )


def settle_budget_lease(lease: BudgetLease, *, used: Callable[[], Decimal]) -> bool:
    """Forget `lease`, move what the generations drawn on it cost (`used()`) into the month's spend and give the
    rest back; False if it was settled already (by another sweep at the same time).

    `used` is read once the lease is gone, so it counts every generation committed before that.
    """
    with transaction.atomic():
        deleted, _ = BudgetLease.objects.filter(pk=lease.pk).delete()
        if deleted:
            BudgetUsage.objects.filter(environment_id=lease.environment_id, month=lease.month).update(
                spent=F("spent") + used(), leased=F("leased") - lease.amount
            )
    return bool(deleted)


def release_budget(*, environment_id: int, month: dt.date, amount: Decimal) -> None:
    """Give back a reservation when a generation fails before anything was paid for."""
    BudgetUsage.objects.filter(environment_id=environment_id, month=month).update(spent=F("spent") - amount)
