"""Dashboard actions with an audit event of their own."""

from django.db import models

from governance.audit.services import Actor, record_event

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
