"""The policy engine: a pure decision over plain data.

`decide()` answers one question: may this request run in this environment now,
and on which snapshot? It reads no database and no clock; callers hand it the
request, the environment's policy revision, a view of the catalog and the time.
Every rule of who-may-run-what lives here, once. What is left of the month's
budget is not a rule but a count: `policies.services.reserve_budget` checks it
atomically as it reserves the cost.
"""

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from governance.catalog.values import CatalogView, SnapshotInfo

DEFAULT_SECONDS = 4
DEFAULT_SIZE = "720x1280"

ALIAS_FOLLOW = "follow"
ALIAS_PIN = "pin"
ALIAS_REFUSE = "refuse"

ARM_CONTROL = "control"
ARM_CANARY = "canary"


class Operation(StrEnum):
    """What a request asks the gateway to do; the generation log stores these values."""

    CREATE = "create"
    REMIX = "remix"
    EDIT = "edit"
    EXTEND = "extend"
    CHARACTER = "character"


OPERATIONS = tuple(Operation)
# Operations that make a new video from an existing one (the source generation).
DERIVED_OPERATIONS = (Operation.REMIX, Operation.EDIT, Operation.EXTEND)

# Canary routing works in basis points: a request's bucket (0..9999) is compared with percent * 100.
ROUTING_BUCKETS = 10_000

# The feature a snapshot needs for each operation other than a plain create.
OPERATION_FEATURES = {
    Operation.REMIX: "remix",
    Operation.EDIT: "edits",
    Operation.EXTEND: "extensions",
    Operation.CHARACTER: "characters",
}
# A snapshot with this feature only animates an image: a request without `input_reference` is refused.
IMAGE_REQUIRED = "image_required"
# A snapshot with this feature takes images only as uploads or data: URIs (Vertex AI), not as https links.
INLINE_IMAGES_ONLY = "inline_images_only"
# Constraints of a snapshot, listed with its features but never something a policy allows or a request asks for.
CONSTRAINTS = frozenset({IMAGE_REQUIRED, INLINE_IMAGES_ONLY})

OPERATION_WORDS = {
    Operation.CREATE: "creating videos",
    Operation.REMIX: "remixes",
    Operation.EDIT: "edits",
    Operation.EXTEND: "extensions",
    Operation.CHARACTER: "characters",
}


@dataclass(frozen=True)
class PolicyView:
    """One immutable policy revision of one environment."""

    revision_id: int
    default_model: str
    allowed_snapshots: frozenset[str]
    number: int = 0
    alias_requests: str = ALIAS_REFUSE
    canary_snapshot: str | None = None
    canary_percent: int = 0
    canary_provider_id: int | None = None  # set when the canary is another provider's snapshot
    max_seconds: int | None = None
    allowed_sizes: frozenset[str] | None = None  # empty or None: no limit beyond the snapshot's
    allowed_features: frozenset[str] | None = None  # empty or None: no limit beyond the snapshot's
    monthly_budget: Decimal | None = None
    allowed_operations: frozenset[str] | None = None  # empty or None: every operation the snapshot supports


@dataclass(frozen=True)
class GenerationRequest:
    """What the client asked for. `features` maps each request parameter to the feature it needs.

    For an extension, `seconds` is the new segment and `source_seconds` the video it extends;
    the result is their stitched total. For an edit, `seconds` is the source's length.
    """

    operation: str = Operation.CREATE
    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    features: Mapping[str, str] = field(default_factory=dict)
    routing_bucket: int = 0  # 0..ROUTING_BUCKETS-1, decides the canary arm (see `routing_bucket()`)
    source_seconds: int = 0
    image_links: tuple[str, ...] = ()  # the parameters that give an image as an http(s) link, not its bytes


@dataclass(frozen=True)
class Accept:
    snapshot: str
    arm: str
    seconds: int
    size: str
    estimated_cost: Decimal
    deprecated: bool = False
    provider_id: int | None = None  # the canary's provider, when the request goes to another provider than the policy's


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    param: str | None = None
    # For `snapshot_shut_down`: when it shut down and what replaces it, for headers and the log.
    shutdown_on: dt.date | None = None
    replacement: str | None = None


Decision = Accept | Refusal


def decide(
    request: GenerationRequest,
    policy: PolicyView,
    catalog: CatalogView,
    now: dt.datetime,
    canary_catalog: CatalogView | None = None,
) -> Decision:
    """May this request run, and on which snapshot. `canary_catalog` is the canary's provider's catalog
    when the policy canaries to another provider (`policy.canary_provider_id`)."""
    pinned = catalog.resolve(policy.default_model)
    target = _requested_snapshot(request, policy, catalog, pinned)
    if isinstance(target, Refusal):
        return target
    refusal = _check_allowed(target, policy, catalog, now, remix=request.operation == Operation.REMIX)
    if refusal:
        return refusal
    refusal = _check_operation(catalog.snapshots[target], request.operation, policy)
    if refusal:
        return refusal
    if request.operation == Operation.CHARACTER:
        return Accept(
            snapshot=target,
            arm="",
            seconds=0,
            size="",
            estimated_cost=Decimal("0"),
            deprecated=catalog.snapshots[target].is_deprecated(now),
        )
    if request.operation == Operation.EXTEND:
        return _decide_extension(request, policy, catalog.snapshots[target], now)

    snapshot = catalog.snapshots[target]
    seconds, size = default_seconds(request, snapshot), default_size(request, snapshot)
    arm, provider_id = "", None
    if request.operation == Operation.CREATE and policy.canary_snapshot and target == pinned:
        arm = ARM_CONTROL
        canary_catalog = canary_catalog if policy.canary_provider_id is not None else catalog
        canary = canary_catalog.snapshots.get(policy.canary_snapshot) if canary_catalog is not None else None
        if (
            request.routing_bucket < policy.canary_percent * (ROUTING_BUCKETS // 100)
            and canary is not None
            and not canary.is_shut_down(now)
            and _check_capabilities(
                canary, request, policy, default_seconds(request, canary), default_size(request, canary)
            )
            is None
        ):
            snapshot, target, arm, provider_id = canary, canary.name, ARM_CANARY, policy.canary_provider_id
            seconds, size = default_seconds(request, canary), default_size(request, canary)

    refusal = _check_capabilities(snapshot, request, policy, seconds, size)
    if refusal:
        return refusal

    cost = estimate_cost(snapshot, seconds, size)
    if policy.monthly_budget is not None and cost > policy.monthly_budget:
        return budget_exceeded(cost, policy.monthly_budget)
    return Accept(
        snapshot=target,
        arm=arm,
        seconds=seconds,
        size=size,
        estimated_cost=cost,
        deprecated=snapshot.is_deprecated(now),
        provider_id=provider_id,
    )


def default_seconds(request: GenerationRequest, snapshot: SnapshotInfo) -> int:
    """The length asked for; without one, OpenAI's default (4 s) where the snapshot offers it, else its first."""
    if request.seconds is not None:
        return request.seconds
    if DEFAULT_SECONDS in snapshot.seconds or not snapshot.seconds:
        return DEFAULT_SECONDS
    return snapshot.seconds[0]


def default_size(request: GenerationRequest, snapshot: SnapshotInfo) -> str:
    """The size asked for; without one, OpenAI's default (720x1280) where the snapshot offers it, else its first."""
    if request.size:
        return request.size
    if DEFAULT_SIZE in snapshot.sizes or not snapshot.sizes:
        return DEFAULT_SIZE
    return snapshot.sizes[0]


def routing_bucket(subject: str) -> int:
    """A stable bucket for a caller's subject (or a generation id): the same subject, the same bucket, always.

    The canary takes the buckets below percent * 100, so a subject in the canary at
    10% is still in it at 50% and at 100%.
    """
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % ROUTING_BUCKETS


def _decide_extension(
    request: GenerationRequest, policy: PolicyView, snapshot: SnapshotInfo, now: dt.datetime
) -> Decision:
    """An extension adds a segment of the snapshot's extension lengths; limits apply to the stitched total."""
    segment = request.seconds if request.seconds is not None else DEFAULT_SECONDS
    if segment not in snapshot.extension_seconds:
        return Refusal(
            code="unsupported_parameter",
            message=f"{snapshot.name} extends videos by {_listed(snapshot.extension_seconds)} seconds; got {segment}.",
            param="seconds",
        )
    total = request.source_seconds + segment
    if policy.max_seconds is not None and total > policy.max_seconds:
        return Refusal(
            code="parameter_not_allowed",
            message=(
                f"This environment's policy allows videos of at most {policy.max_seconds} seconds; extending "
                f"{request.source_seconds} s by {segment} s makes {total}."
            ),
            param="seconds",
        )
    size = request.size or DEFAULT_SIZE
    refusal = _check_size(snapshot, policy, size)
    if refusal:
        return refusal
    cost = estimate_cost(snapshot, segment, size)
    if policy.monthly_budget is not None and cost > policy.monthly_budget:
        return budget_exceeded(cost, policy.monthly_budget)
    return Accept(
        snapshot=snapshot.name,
        arm="",
        seconds=total,
        size=size,
        estimated_cost=cost,
        deprecated=snapshot.is_deprecated(now),
    )


def _check_operation(snapshot: SnapshotInfo, operation: str, policy: PolicyView) -> Refusal | None:
    """The environment's policy must allow the operation, and the snapshot must offer it."""
    if operation not in OPERATIONS:
        return Refusal(code="operation_not_supported", message=f"Unknown operation '{operation}'.")
    words = OPERATION_WORDS[operation]
    if policy.allowed_operations and operation not in policy.allowed_operations:
        allowed = ", ".join(sorted(policy.allowed_operations))
        return Refusal(
            code="operation_not_allowed",
            message=(
                f"This environment's policy (revision {policy.number}) does not allow {words} "
                f"(operation '{operation}'). Allowed operations: {allowed}."
            ),
        )
    feature = OPERATION_FEATURES.get(operation)
    if feature is not None and feature not in snapshot.features:
        return Refusal(
            code="operation_not_supported",
            message=f"{snapshot.name} does not support {words} (operation '{operation}').",
        )
    return None


def recheck(
    snapshot_name: str,
    policy: PolicyView,
    catalog: CatalogView,
    now: dt.datetime,
    operation: str = Operation.CREATE,
    *,
    comparison: bool = False,
) -> Refusal | None:
    """Whether an accepted generation may still run now, just before it reaches the upstream.

    Between acceptance and execution the policy may have been revised (a rollback,
    a snapshot disallowed, an operation forbidden) or the snapshot may have shut down.
    A comparison run is checked under the policy it was decided under (`comparison_policy()`).
    """
    if comparison:
        policy = comparison_policy(policy, snapshot_name)
    snapshot = catalog.snapshots.get(snapshot_name)
    if snapshot is None:
        return Refusal(
            code="snapshot_no_longer_allowed", message=f"Snapshot '{snapshot_name}' is no longer in the catalog."
        )
    if snapshot.is_shut_down(now):
        return _shut_down(snapshot, catalog)
    if snapshot_name not in policy.allowed_snapshots and snapshot_name != policy.canary_snapshot:
        return Refusal(
            code="snapshot_no_longer_allowed",
            message=(
                f"Snapshot '{snapshot_name}' was allowed when this request was accepted, but the environment's "
                f"policy (revision {policy.number}) no longer allows it; it was stopped before reaching the provider."
            ),
            param="model",
        )
    return _check_operation(snapshot, operation, policy)


def recheck_provider(
    *, accepted_at: int | None, policy_provider_id: int, comparison: bool, canary_provider_id: int | None = None
) -> Refusal | None:
    """A generation runs at the provider it was accepted for. If the policy has moved to another provider
    since (and does not canary there), it is stopped before it runs, unless it is a comparison run, which
    may run at another provider."""
    if accepted_at in (policy_provider_id, canary_provider_id) or comparison:
        return None
    return Refusal(
        code="snapshot_no_longer_allowed",
        message="The environment's policy now uses another provider; this request was stopped before it ran.",
    )


@dataclass(frozen=True)
class ComparisonRun:
    """A migration plan's comparison run of `snapshot`, at another provider's when `provider_id` is set."""

    snapshot: str
    provider_id: int | None = None


def comparison_policy(policy: PolicyView, snapshot: str) -> PolicyView:
    """The policy a comparison run is decided under: the environment's, also allowing the plan's snapshot, no canary."""
    return replace(
        policy, allowed_snapshots=policy.allowed_snapshots | {snapshot}, canary_snapshot=None, canary_percent=0
    )


def running_provider(policy_provider_id: int | None, comparison: ComparisonRun | None = None) -> int | None:
    """The provider that runs a generation: the policy's, or the other provider a comparison run goes to."""
    if comparison is not None and comparison.provider_id is not None:
        return comparison.provider_id
    return policy_provider_id


def budget_exceeded(cost: Decimal, budget: Decimal) -> Refusal:
    return Refusal(
        code="budget_exceeded",
        message=f"This request would cost ${cost}, more than is left of the environment's ${budget} monthly budget.",
    )


def estimate_cost(snapshot: SnapshotInfo, seconds: int, size: str) -> Decimal:
    price = snapshot.price_per_second.get(size, Decimal("0"))
    return (Decimal(price) * seconds).quantize(Decimal("0.0001"))


def _requested_snapshot(
    request: GenerationRequest, policy: PolicyView, catalog: CatalogView, pinned: str | None
) -> str | Refusal:
    if not request.model:
        if pinned is None:
            return Refusal(code="model_not_found", message="This environment's default model is not in the catalog.")
        return pinned
    if request.model in catalog.snapshots:
        return request.model
    if request.model in catalog.aliases:
        if policy.alias_requests == ALIAS_REFUSE:
            return Refusal(
                code="alias_not_allowed",
                message=(
                    f"'{request.model}' is a moving alias and this environment refuses alias requests. "
                    f"Ask for a dated snapshot{_pinned_hint(pinned)}."
                ),
                param="model",
            )
        if policy.alias_requests == ALIAS_PIN:
            return _pinned_for_alias(request.model, pinned, catalog)
        return catalog.aliases[request.model]
    return Refusal(
        code="model_not_found",
        message=f"The model '{request.model}' does not exist or is not offered by this environment's provider.",
        param="model",
    )


def _pinned_for_alias(alias: str, pinned: str | None, catalog: CatalogView) -> str | Refusal:
    """A pinned environment answers an alias of its pin's family with the pin, and no other alias."""
    if pinned is None:
        return Refusal(code="model_not_found", message="This environment's pin is not in the catalog.")
    alias_family = catalog.snapshots[catalog.aliases[alias]].family
    if alias_family != catalog.snapshots[pinned].family:
        return Refusal(
            code="alias_not_allowed",
            message=f"'{alias}' is an alias of the {alias_family} family; this environment is pinned to '{pinned}'.",
            param="model",
        )
    return pinned


def _pinned_hint(pinned: str | None) -> str:
    return f", such as '{pinned}'" if pinned else ""


def _check_allowed(
    target: str, policy: PolicyView, catalog: CatalogView, now: dt.datetime, *, remix: bool
) -> Refusal | None:
    """Shut-down snapshots never run; others must be allowed (a remix may also stay on the canary it came from)."""
    snapshot = catalog.snapshots[target]
    if snapshot.is_shut_down(now):
        return _shut_down(snapshot, catalog)
    if target not in policy.allowed_snapshots and not (remix and target == policy.canary_snapshot):
        allowed = ", ".join(sorted(policy.allowed_snapshots)) or "none"
        return Refusal(
            code="model_not_allowed",
            message=f"Snapshot '{target}' is not allowed in this environment. Allowed: {allowed}.",
            param="model",
        )
    return None


def _shut_down(snapshot: SnapshotInfo, catalog: CatalogView) -> Refusal:
    message = f"Snapshot '{snapshot.name}' was shut down on {snapshot.shutdown_on.isoformat()}; nothing runs on it."
    if snapshot.replacement:
        message += f" Its replacement is '{snapshot.replacement}': migrate this environment to it."
    else:
        message += " It has no named replacement: migrate this environment to another snapshot."
    return Refusal(
        code="snapshot_shut_down",
        message=message,
        param="model",
        shutdown_on=snapshot.shutdown_on,
        replacement=snapshot.replacement,
    )


def _check_capabilities(
    snapshot: SnapshotInfo, request: GenerationRequest, policy: PolicyView, seconds: int, size: str
) -> Refusal | None:
    # An edit keeps its source's length, whatever made the source; the snapshot's lengths bind new videos.
    if request.operation != Operation.EDIT and seconds not in snapshot.seconds:
        return Refusal(
            code="unsupported_parameter",
            message=f"{snapshot.name} supports seconds {_listed(snapshot.seconds)}; got {seconds}.",
            param="seconds",
        )
    if policy.max_seconds is not None and seconds > policy.max_seconds:
        return Refusal(
            code="parameter_not_allowed",
            message=f"This environment's policy allows at most {policy.max_seconds} seconds; got {seconds}.",
            param="seconds",
        )
    refusal = _check_size(snapshot, policy, size)
    if refusal:
        return refusal
    if IMAGE_REQUIRED in snapshot.features and request.operation == Operation.CREATE:
        if "input_reference" not in request.features:
            return Refusal(
                code="missing_required_parameter",
                message=f"{snapshot.name} only animates an image: send 'input_reference'.",
                param="input_reference",
            )
    if INLINE_IMAGES_ONLY in snapshot.features and request.image_links:
        param = request.image_links[0]
        return Refusal(
            code="unsupported_parameter",
            message=f"{snapshot.name} takes images as uploads or data: URIs, not as links (parameter '{param}').",
            param=param,
        )
    for param, feature in request.features.items():
        if feature not in snapshot.features:
            return Refusal(
                code="unsupported_parameter",
                message=f"{snapshot.name} does not support {feature.replace('_', ' ')} (parameter '{param}').",
                param=param,
            )
        if policy.allowed_features and feature not in policy.allowed_features:
            return Refusal(
                code="parameter_not_allowed",
                message=f"This environment's policy does not allow {feature.replace('_', ' ')} (parameter '{param}').",
                param=param,
            )
    return None


def _check_size(snapshot: SnapshotInfo, policy: PolicyView, size: str) -> Refusal | None:
    if size not in snapshot.sizes:
        return Refusal(
            code="unsupported_parameter",
            message=f"{snapshot.name} supports sizes {_listed(snapshot.sizes)}; got {size}.",
            param="size",
        )
    if policy.allowed_sizes and size not in policy.allowed_sizes:
        return Refusal(
            code="parameter_not_allowed",
            message=f"This environment's policy allows sizes {_listed(sorted(policy.allowed_sizes))}; got {size}.",
            param="size",
        )
    return None


def _listed(values) -> str:
    return ", ".join(str(value) for value in values) or "none"
