"""Personal access tokens: made, revoked and checked here, each change with its audit event.

A token acts for its user with the user's own role in each project, limited to the projects it
names (none: every project the user may see). It stops working when it is revoked or when its
user is deactivated; a user who loses a project's membership loses it through their tokens too.
"""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.management_api.models import SHOWN_PREFIX_LENGTH, AccessToken, generate_access_token
from governance.projects.models import Project, hash_api_key
from governance.projects.permissions import visible_projects

LAST_USE_PRECISION = dt.timedelta(minutes=1)


@transaction.atomic
def create_access_token(*, user, name: str, projects: Iterable[Project] = (), actor: Actor) -> tuple[AccessToken, str]:
    """Make a token for `user` and return it with the raw token, which is never stored and shown only now."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what uses it, e.g. “release pipeline”."})
    if not user.is_active:
        raise ValidationError({"user": f"{user.get_username()} is deactivated; a token would not work."})
    projects = list(projects)
    unseen = sorted(project.slug for project in projects if not visible_projects(user).filter(pk=project.pk).exists())
    if unseen:
        raise ValidationError({"projects": f"{user.get_username()} is not a member of {', '.join(unseen)}."})
    raw_token = generate_access_token()
    token = AccessToken.objects.create(
        user=user, name=name, prefix=raw_token[:SHOWN_PREFIX_LENGTH], token_hash=hash_api_key(raw_token)
    )
    token.projects.set(projects)
    record_event(
        action="access_token.created",
        actor=actor,
        target=token,
        payload={"user": user.get_username(), **token.credential(), "projects": scope_words(token)},
    )
    return token, raw_token


@transaction.atomic
def revoke_access_token(*, token: AccessToken, actor: Actor) -> AccessToken:
    """Revoke a token for good; revoking it again changes nothing and records nothing."""
    token = AccessToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(
        action="access_token.revoked",
        actor=actor,
        target=token,
        payload={"user": token.user.get_username(), **token.credential()},
    )
    return token


def scope_words(token: AccessToken) -> list[str] | str:
    """The projects a token names, or "all" when it names none (the audit payload's and the pages' words)."""
    slugs = sorted(token.projects.values_list("slug", flat=True))
    return slugs or "all"


def token_for(raw_token: str) -> AccessToken | None:
    """The working token matching a bearer value: not revoked, its user active."""
    if not raw_token:
        return None
    token = (
        AccessToken.objects.active()
        .select_related("user")
        .filter(token_hash=hash_api_key(raw_token), user__is_active=True)
        .first()
    )
    if token is not None:
        _note_use(token)
    return token


def _note_use(token: AccessToken) -> None:
    """When the token was last used, to the minute: one plain UPDATE a minute at most, not one per request."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def projects_in_reach(token: AccessToken) -> QuerySet[Project]:
    """The projects the token may act in: its user's visible projects, limited to the ones it names."""
    projects = visible_projects(token.user)
    scope = list(token.projects.values_list("pk", flat=True))
    return projects.filter(pk__in=scope) if scope else projects


def covers(token: AccessToken, project: Project) -> bool:
    """Whether the token names `project`, or names none."""
    scope = token.projects.values_list("pk", flat=True)
    return not scope.exists() or project.pk in set(scope)
