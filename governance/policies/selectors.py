import datetime as dt
from dataclasses import dataclass

from governance.infra.caching import remembered
from governance.policies.engine import PolicyView
from governance.policies.models import PolicyRevision


@dataclass(frozen=True)
class PolicyInForce:
    view: PolicyView
    provider_id: int
    number: int


def _load_policy_in_force(environment_id: int) -> PolicyInForce | None:
    revision = PolicyRevision.objects.filter(environment_id=environment_id).order_by("-number").first()
    if revision is None:
        return None
    return PolicyInForce(view=revision.as_view(), provider_id=revision.provider_id, number=revision.number)


def policy_in_force(environment_id: int) -> PolicyInForce | None:
    """The environment's newest policy revision, from memory."""
    return remembered(("policy", environment_id), lambda: _load_policy_in_force(environment_id))


def current_revision(environment) -> PolicyRevision | None:
    return environment.policy_revisions.order_by("-number").first()


def month_start(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date().replace(day=1)


@dataclass(frozen=True)
class FileOrigin:
    """An environment's policy against the last policy file applied to it (`governance apply`)."""

    applied: PolicyRevision  # the newest revision a policy file wrote
    changed_since: list[PolicyRevision]  # later revisions from the Policy editor or a plan, newest first

    @property
    def drifted(self) -> bool:
        """Changed outside the file since it was applied: the file no longer says what is in force."""
        return bool(self.changed_since)


def file_origin(revisions: list[PolicyRevision]) -> FileOrigin | None:
    """Where `revisions` (one environment's, newest first) stand against the last policy file; None if no file
    ever set them."""
    for index, revision in enumerate(revisions):
        if revision.from_file:
            return FileOrigin(applied=revision, changed_since=revisions[:index])
    return None
