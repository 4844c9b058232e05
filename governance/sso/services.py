"""Single sign-on's governance actions: a user signing in through the provider, their roles following
their groups, and the periodic recheck at the provider. Each writes its audit events in its transaction.

Roles change through the projects app's services (`set_membership`, `change_member_role`,
`remove_member`), so the last-admin rule holds and a signer who loses a step's role has their
sign-offs on plans not yet started withdrawn, as when an admin makes the change by hand.
Only what a group mapping granted is changed or taken away (`SsoMembership`,
`SsoIdentity.auditor_granted`); a role granted by hand stays until someone takes it away by hand.
"""

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from governance.accounts.sessions import end_sessions, session_keys_by_user
from governance.audit.services import Actor, record_event
from governance.projects.models import AUDITOR_GROUP, Membership
from governance.projects.services import (
    LastAdminError,
    account_state,
    change_member_role,
    record_user_change,
    remove_member,
    set_membership,
)
from governance.sso import access_tokens
from governance.sso.mapping import granted_roles
from governance.sso.models import AUDITOR, SsoIdentity, SsoMembership
from governance.sso.provider import ProviderUnavailable, endpoints, sso_enabled

logger = logging.getLogger(__name__)

SSO = Actor.system("sso")
USER_CREATED = "sso.user_created"
ROLES_CHANGED = "sso.roles_changed"
USERNAME_CHARACTERS = re.compile(r"[^\w.@+-]+")


@dataclass
class RoleChanges:
    """What one synchronisation did, as `project:role` strings (`auditor` for the site-wide role)."""

    granted: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.granted or self.changed or self.removed or self.kept)


def groups_in(claims: dict) -> list[str]:
    """The groups claim as a list of names (a provider may send one group as a plain string)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(group) for group in value]
    return []


@transaction.atomic
def sign_in(*, issuer: str, claims: dict) -> SsoIdentity:
    """The provider has confirmed who this is: find their user by `sub` (or create one), then set their roles."""
    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=claims["sub"])
        .first()
    )
    if identity is None:
        identity = _create_user(issuer=issuer, claims=claims)
    _update_profile(identity.user, claims)
    _confirmed(identity, groups=groups_in(claims), via="sign-in")
    return identity


def _create_user(*, issuer: str, claims: dict) -> SsoIdentity:
    User = get_user_model()
    user = User(username=_free_username(claims))
    user.set_unusable_password()  # signs in through the provider only
    user.save()
    identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=claims["sub"])
    record_event(
        action=USER_CREATED,
        actor=SSO,
        target=user,
        payload={"user": user.get_username(), "issuer": issuer, "subject": claims["sub"]},
    )
    return identity


def _free_username(claims: dict) -> str:
    """A username from the configured claim (or the e-mail address, or `sub`), made valid and unused.

    An existing account is never taken over because the provider calls someone by its name: a name
    that is taken gets a number.
    """
    wanted = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or claims["sub"]
    base = USERNAME_CHARACTERS.sub("-", str(wanted)).strip("-")[:140] or "sso-user"
    User = get_user_model()
    candidate, number = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _update_profile(user, claims: dict) -> None:
    profile = {
        "email": claims.get("email") or user.email,
        "first_name": (claims.get("given_name") or user.first_name)[:150],
        "last_name": (claims.get("family_name") or user.last_name)[:150],
    }
    changed = [name for name, value in profile.items() if getattr(user, name) != value]
    if changed:
        for name in changed:
            setattr(user, name, profile[name])
        user.save(update_fields=changed)


def _confirmed(identity: SsoIdentity, *, groups: list[str], via: str) -> RoleChanges:
    identity.last_verified_at = timezone.now()
    identity.groups = groups
    identity.save(update_fields=["last_verified_at", "groups"])
    return sync_roles(identity=identity, groups=groups, via=via)


@transaction.atomic
def sync_roles(*, identity: SsoIdentity, groups: list[str], via: str) -> RoleChanges:
    """Make the roles that group mappings granted this user match what `groups` grants now."""
    granted = granted_roles(groups)
    changes = RoleChanges()
    user = identity.user
    for membership in Membership.objects.filter(user=user).select_related("project", "sso"):
        _, wanted = granted.projects.pop(membership.project_id, (None, None))
        if hasattr(membership, "sso"):
            _follow(membership, wanted, changes)
    for project, role in granted.projects.values():
        SsoMembership.objects.create(membership=set_membership(project=project, user=user, role=role, actor=SSO))
        changes.granted.append(f"{project.slug}:{role}")
    _follow_auditor(identity, granted.auditor, changes)
    if changes:
        record_event(
            action=ROLES_CHANGED,
            actor=SSO,
            target=user,
            payload={
                "user": user.get_username(),
                "via": via,
                "groups": groups,
                "granted": changes.granted,
                "changed": changes.changed,
                "removed": changes.removed,
                "kept": changes.kept,
            },
        )
    return changes


def _follow(membership: Membership, wanted: str | None, changes: RoleChanges) -> None:
    """Change or remove a membership that a mapping granted, unless it is the project's last admin."""
    held = f"{membership.project.slug}:{membership.role}"
    if wanted == membership.role:
        return
    try:
        if wanted is None:
            remove_member(membership=membership, actor=SSO)
            changes.removed.append(held)
        else:
            change_member_role(membership=membership, role=wanted, actor=SSO)
            changes.changed.append(f"{held} → {wanted}")
    except LastAdminError as refusal:
        changes.kept.append({"role": held, "reason": str(refusal)})


def _follow_auditor(identity: SsoIdentity, wanted: bool, changes: RoleChanges) -> None:
    user = identity.user
    auditors, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    holds = user.groups.filter(pk=auditors.pk).exists()
    if wanted and not holds:
        before = account_state(user)
        user.groups.add(auditors)
        record_user_change(user=user, before=before, after=account_state(user), actor=SSO)
        changes.granted.append(AUDITOR)
    elif not wanted and holds and identity.auditor_granted:
        before = account_state(user)
        user.groups.remove(auditors)
        record_user_change(user=user, before=before, after=account_state(user), actor=SSO)
        changes.removed.append(AUDITOR)
    granted_here = wanted and (identity.auditor_granted or not holds)
    if identity.auditor_granted != granted_here:
        identity.auditor_granted = granted_here
        identity.save(update_fields=["auditor_granted"])


# The periodic recheck.

CONFIRMED, REFUSED, UNREACHABLE, EXPIRED = "confirmed", "refused", "unreachable", "sessions ended"


def recheck_users(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: ask the provider about every user whose access token still lasts; end stale sessions of the rest.

    - userinfo answers: the user is confirmed, and their roles follow the groups it names (when it
      names them); if that takes a role away, their sessions end too.
    - userinfo refuses the token (401, 403): the provider no longer vouches for them; every role a
      mapping granted is taken away and their sessions end.
    - no token (it expired, or no refresh was kept): nothing can be asked, so a user with sessions
      not confirmed for OIDC_RECHECK_SECONDS is signed out; signing in again confirms them afresh.
    Returns how many users each outcome had.
    """
    outcomes: dict[str, int] = {}
    if not sso_enabled():
        return outcomes
    now = now or timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.OIDC_RECHECK_SECONDS)
    sessions = session_keys_by_user()
    for identity in SsoIdentity.objects.select_related("user").order_by("pk"):
        keys = sessions.get(str(identity.user_id), [])
        token = access_tokens.recall(identity_id=identity.pk)
        if token:
            outcome = _ask_the_provider(identity, token, keys)
        elif keys and identity.last_verified_at < stale_before:
            seconds = settings.OIDC_RECHECK_SECONDS
            reason = f"the provider has not confirmed the user for more than {seconds} seconds"
            end_sessions(user=identity.user, reason=reason, actor=SSO, session_keys=keys)
            outcome = EXPIRED
        else:
            continue
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _ask_the_provider(identity: SsoIdentity, token: str, session_keys: list[str]) -> str:
    try:
        url = endpoints().userinfo_endpoint
        if not url:
            return UNREACHABLE
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=settings.OIDC_TIMEOUT_SECONDS)
    except (httpx.HTTPError, ProviderUnavailable) as error:
        logger.warning("The provider's userinfo could not be asked about %s: %s", identity.user, error)
        return UNREACHABLE
    if response.status_code in (401, 403):
        access_tokens.forget(identity_id=identity.pk)
        _refused(identity, session_keys)
        return REFUSED
    claims = _userinfo_claims(response)
    if claims is None or claims.get("sub") != identity.subject:
        logger.warning(
            "The provider's userinfo about %s gave no usable answer (%s).", identity.user, response.status_code
        )
        return UNREACHABLE
    _confirmed_at_userinfo(identity, claims, session_keys)
    return CONFIRMED


def _userinfo_claims(response: httpx.Response) -> dict | None:
    if response.status_code != 200:
        return None
    try:
        claims = response.json()
    except ValueError:  # a signed (JWT) userinfo answer: not asked for, so not read
        return None
    return claims if isinstance(claims, dict) else None


@transaction.atomic
def _confirmed_at_userinfo(identity: SsoIdentity, claims: dict, session_keys: list[str]) -> None:
    identity = SsoIdentity.objects.select_for_update().select_related("user").get(pk=identity.pk)
    if settings.OIDC_GROUPS_CLAIM not in claims:
        # The answer does not say which groups: confirm the user, change no role.
        identity.last_verified_at = timezone.now()
        identity.save(update_fields=["last_verified_at"])
        return
    changes = _confirmed(identity, groups=groups_in(claims), via="userinfo")
    if changes.removed:
        reason = f"the provider's groups no longer grant {', '.join(changes.removed)}"
        end_sessions(user=identity.user, reason=reason, actor=SSO, session_keys=session_keys)


@transaction.atomic
def _refused(identity: SsoIdentity, session_keys: list[str]) -> None:
    identity = SsoIdentity.objects.select_for_update().select_related("user").get(pk=identity.pk)
    identity.groups = []
    identity.save(update_fields=["groups"])
    sync_roles(identity=identity, groups=[], via="userinfo refused the user's token")
    reason = "the provider refused the user's access token at its userinfo endpoint"
    end_sessions(user=identity.user, reason=reason, actor=SSO, session_keys=session_keys)


MAPPING_CHANGED = "sso.mapping_changed"


def mapping_state(mapping) -> dict:
    return {"group": mapping.group, "project": mapping.project.slug if mapping.project else None, "role": mapping.role}


@transaction.atomic
def record_mapping_change(*, mapping, before: dict | None, after: dict | None, actor: Actor) -> None:
    """Audit a group mapping created, changed or deleted in the admin; it takes effect at each user's next check."""
    if before == after:
        return
    record_event(
        action=MAPPING_CHANGED,
        actor=actor,
        target=mapping,
        project=mapping.project,
        payload={
            "change": "created" if before is None else "deleted" if after is None else "changed",
            "from": before,
            "to": after,
        },
    )
