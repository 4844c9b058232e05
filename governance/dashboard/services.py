"""Dashboard actions with an audit event of their own."""

from django.db import models, transaction

from governance.audit.services import Actor, record_event
from governance.generations.models import Generation
from governance.generations.ratelimit import seconds_until_allowed
from governance.generations.services import submit
from governance.generations.submissions import parse_submission
from governance.policies.engine import Operation
from governance.projects.models import Environment
from governance.projects.selectors import KeyHolder
from governance.projects.services import create_api_key, note_api_key_use

REFUSED_ACCESS = "auth.refused"


def record_refused_visit(
    *, user, path: str, method: str, reason: str, target: models.Model | None = None, project=None, environment=None
) -> None:
    """Audit a signed-in user refused a dashboard page, whatever answer (403 or 404) they were given."""
    record_event(
        action=REFUSED_ACCESS,
        actor=Actor.for_user(user),
        target=target,
        project=project,
        environment=environment,
        payload={"path": path, "method": method, "reason": reason},
    )


PLAYGROUND_KEY_NAME = "Dashboard playground"


def playground_holder(*, environment: Environment, user) -> KeyHolder:
    """The identity the playground submits with: its environment's own API key, created on first use.

    Generations need a key, and every gateway rule (policy, budget, the log, the API's
    per-environment listing) already hangs on one; the key's secret is never kept, so
    only the dashboard can use it. Who pressed the button is recorded on the generation.
    """
    with transaction.atomic():
        # One playground key per environment, even when two people start the playground at once.
        environment = Environment.objects.select_for_update().select_related("project").get(pk=environment.pk)
        api_key = environment.api_keys.active().filter(name=PLAYGROUND_KEY_NAME).first()
        if api_key is None:
            api_key, _secret = create_api_key(
                environment=environment, name=PLAYGROUND_KEY_NAME, actor=Actor.for_user(user), created_by=user
            )
    return KeyHolder(
        api_key_id=api_key.pk,
        prefix=api_key.prefix,
        environment_id=environment.pk,
        environment_name=environment.name,
        project_id=environment.project_id,
        project_slug=environment.project.slug,
        rate_limit_per_minute=environment.rate_limit_per_minute,
    )


class PlaygroundRateLimited(Exception):
    """The playground's key has used this minute's requests; like the gateway's 429, nothing is logged."""

    def __init__(self, holder: KeyHolder, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            f"The playground of {holder.project_slug}/{holder.environment_name} has made its "
            f"{holder.rate_limit_per_minute} requests this minute: it counts as one API key of the environment, "
            f"and each may make {holder.rate_limit_per_minute} a minute. Try again in {retry_after} s."
        )


def submit_from_playground(*, user, environment: Environment, fields: dict) -> Generation:
    """Submit as the gateway would a create request with these fields: same limit, parsing, policy, log, worker."""
    holder = playground_holder(environment=environment, user=user)
    retry_after = seconds_until_allowed(api_key_id=holder.api_key_id, per_minute=holder.rate_limit_per_minute)
    if retry_after is not None:
        raise PlaygroundRateLimited(holder, retry_after)
    note_api_key_use(api_key_id=holder.api_key_id)
    submission, _fingerprint = parse_submission(Operation.CREATE, body=fields)
    return submit(holder=holder, submission=submission, submitted_by=user)
