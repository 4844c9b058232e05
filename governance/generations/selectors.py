"""Reads of the gateway that more than one page or endpoint needs."""

import datetime as dt
from dataclasses import dataclass

from governance.catalog.selectors import catalog_view
from governance.catalog.values import SnapshotInfo
from governance.policies.engine import ROUTING_BUCKETS, Accept, GenerationRequest, decide
from governance.policies.selectors import policy_in_force

# Refusals of a request naming only a model that are about the defaults it is given (a length, a size,
# what they cost): a client asking for other values may be accepted, so the model is still offered.
REFUSED_FOR_DEFAULTS = ("unsupported_parameter", "parameter_not_allowed", "budget_exceeded")


@dataclass(frozen=True)
class OfferedModel:
    name: str
    snapshot: SnapshotInfo  # the snapshot a request for `name` runs on


def offered_models(environment_id: int, *, now: dt.datetime, as_submitted: bool = False) -> list[OfferedModel]:
    """What the environment may ask for now: allowed snapshots that still run, and the aliases that resolve here.

    Each name is judged as the policy engine decides a request naming only it. By default (`/v1/models`)
    a name is offered if that request, on the control arm, is accepted or refused only for its defaults
    (`REFUSED_FOR_DEFAULTS`). `as_submitted` (the playground, which sends those defaults) offers only the
    names such a request is accepted for, on either arm: bucket 0 is on the canary whenever one runs.
    """
    policy = policy_in_force(environment_id)
    if policy is None:
        return []
    catalog = catalog_view(policy.provider_id)
    bucket = 0 if as_submitted else ROUTING_BUCKETS
    offered = []
    for name in sorted(policy.view.allowed_snapshots) + sorted(catalog.aliases):
        decision = decide(GenerationRequest(model=name, routing_bucket=bucket), policy.view, catalog, now)
        if isinstance(decision, Accept):
            offered.append(OfferedModel(name, catalog.snapshots[decision.snapshot]))
        elif not as_submitted and decision.code in REFUSED_FOR_DEFAULTS:
            offered.append(OfferedModel(name, catalog.snapshots[catalog.resolve(name)]))
    return offered
