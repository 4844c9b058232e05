"""Project governance actions: keys and memberships, each with its audit event."""

import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.projects.models import (
    API_KEY_PREFIX,
    ApiKey,
    Environment,
    Membership,
    Project,
    Role,
    generate_api_key,
    hash_api_key,
)
from governance.projects.signals import membership_changed


@transaction.atomic
def create_api_key(*, environment: Environment, name: str, actor: Actor, created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored and shown only now."""
    raw_key = generate_api_key()
    api_key = ApiKey.objects.create(
        environment=environment,
        name=name,
        prefix=raw_key[:12],
        key_hash=hash_api_key(raw_key),
        created_by=created_by,
    )
    record_event(
        action="api_key.created",
        actor=actor,
        target=api_key,
        project=environment.project,
        environment=environment,
        payload={"name": name, "prefix": api_key.prefix},
    )
    return api_key, raw_key


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().select_related("environment__project").get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    record_event(
        action="api_key.revoked",
        actor=actor,
        target=api_key,
        project=api_key.environment.project,
        environment=api_key.environment,
        payload={"name": api_key.name, "prefix": api_key.prefix},
    )
    return api_key


@transaction.atomic
def set_rate_limit(*, environment: Environment, per_minute: int, actor: Actor) -> Environment:
    """Change how many gateway requests per minute each of the environment's keys may make (0: no limit)."""
    if per_minute < 0:
        raise ValueError("A rate limit is 0 (no limit) or a positive number of requests per minute.")
    environment = Environment.objects.select_for_update().select_related("project").get(pk=environment.pk)
    previous = environment.rate_limit_per_minute
    if previous != per_minute:
        environment.rate_limit_per_minute = per_minute
        environment.save(update_fields=["rate_limit_per_minute"])
        record_event(
            action="environment.rate_limit_changed",
            actor=actor,
            target=environment,
            project=environment.project,
            environment=environment,
            payload={"from": previous, "to": per_minute},
        )
    return environment


@transaction.atomic
def set_content_credentials(
    *, environment: Environment, sign_content: bool, prompt_in_credentials: bool, actor: Actor
) -> Environment:
    """Switch signing of the environment's content on or off, and whether manifests carry the prompt itself."""
    environment = Environment.objects.select_for_update().select_related("project").get(pk=environment.pk)
    before = {"sign_content": environment.sign_content, "prompt_in_credentials": environment.prompt_in_credentials}
    after = {"sign_content": sign_content, "prompt_in_credentials": prompt_in_credentials}
    if before != after:
        environment.sign_content, environment.prompt_in_credentials = sign_content, prompt_in_credentials
        environment.save(update_fields=["sign_content", "prompt_in_credentials"])
        record_event(
            action="environment.content_credentials_changed",
            actor=actor,
            target=environment,
            project=environment.project,
            environment=environment,
            payload={"from": before, "to": after},
        )
    return environment


@transaction.atomic
def set_membership(*, project: Project, user, role: str, actor: Actor) -> Membership:
    membership, created = Membership.objects.select_for_update().get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    previous = None if created else membership.role
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    if created or previous != role:
        record_event(
            action="member.changed",
            actor=actor,
            target=membership,
            project=project,
            payload={"user": user.get_username(), "from": previous, "to": role},
        )
        membership_changed.send(Membership, project=project, user=user, role_before=previous, role=role, actor=actor)
    return membership


def account_state(user) -> dict:
    """What decides a user's access, as plain data; never the password or its hash."""
    return {
        "username": user.get_username(),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": _permission_names(user.user_permissions.all()),
    }


def group_state(group) -> dict:
    return {"name": group.name, "permissions": _permission_names(group.permissions.all())}


def _permission_names(permissions) -> list[str]:
    names = permissions.values_list("content_type__app_label", "codename")
    return sorted(f"{app_label}.{codename}" for app_label, codename in names)


@transaction.atomic
def record_user_change(*, user, before: dict | None, after: dict | None, actor: Actor) -> None:
    """Audit a user created, deleted, or changed in anything that decides their access.

    `before` is None for a new user, `after` None for a deleted one; a change that
    touches none of these fields (a name, an e-mail address) writes no event.
    """
    changed = _changed_fields(before, after)
    if not changed:
        return
    record_event(
        action="user.changed",
        actor=actor,
        target=user,
        payload={
            "user": (after or before)["username"],
            "change": "created" if before is None else "deleted" if after is None else "changed",
            "changed": changed,
        },
    )


@transaction.atomic
def record_group_change(*, group, before: dict | None, after: dict | None, actor: Actor) -> None:
    """Audit a group created, renamed, deleted or given other permissions, naming its members.

    A group's name can grant a role (the `auditors` group), so a rename is audited too.
    """
    changed = _changed_fields(before, after)
    if not changed:
        return
    record_event(
        action="group.changed",
        actor=actor,
        target=group,
        payload={
            "group": (after or before)["name"],
            "change": "created" if before is None else "deleted" if after is None else "changed",
            "changed": changed,
            "members": sorted(user.get_username() for user in group.user_set.all()),
        },
    )


def _changed_fields(before: dict | None, after: dict | None) -> dict:
    before, after = before or {}, after or {}
    return {
        field: {"from": before.get(field), "to": after.get(field)}
        for field in dict.fromkeys([*before, *after])
        if before.get(field) != after.get(field)
    }


def note_api_key_use(*, api_key_id: int, now=None) -> None:
    """Record when a key was last used; a plain UPDATE, so no state change is broadcast."""
    ApiKey.objects.filter(pk=api_key_id).update(last_used_at=now or timezone.now())


REFUSED_KEY_EVENT_EVERY_SECONDS = 60
REFUSED_KEY_ADDRESSES_REMEMBERED = 10_000


@dataclass
class _RefusalsFrom:
    """One client address: when its last refusal was audited, and how many were refused since without an event."""

    audited_at: float
    unreported: int = 0


_refused_key_events: dict[str, _RefusalsFrom] = {}


def note_refused_api_key(
    *,
    client_ip: str,
    presented: str,
    now: float | None = None,
    refused_by: str = "gateway",
    known_prefix: str = API_KEY_PREFIX,
) -> None:
    """Audit a request refused for a missing, unknown or revoked key (or, `refused_by` another API, its token).

    At most one event per client address per minute and process, so a flood of bad
    requests cannot flood the audit chain; the refusals in between are counted and
    reported in the address's next event. Only the visible prefix of a key that looks
    like one of ours (`known_prefix`) is kept.
    """
    now = time.monotonic() if now is None else now
    seen = _refused_key_events.get(client_ip)
    if seen is not None and now - seen.audited_at < REFUSED_KEY_EVENT_EVERY_SECONDS:
        seen.unreported += 1
        return
    if len(_refused_key_events) >= REFUSED_KEY_ADDRESSES_REMEMBERED:
        _forget_quiet_addresses(now)
    _refused_key_events[client_ip] = _RefusalsFrom(audited_at=now)
    prefix = presented[:12] if presented.startswith(known_prefix) else ""
    record_event(
        action="auth.refused",
        actor=Actor.system(refused_by),
        payload={
            "client_ip": client_ip,
            "key_prefix": prefix,
            "reason": "unknown or revoked key" if presented else "no key",
            "refused_since_last_event": seen.unreported if seen else 0,
        },
    )


def _forget_quiet_addresses(now: float) -> None:
    """Keep the memory bounded: drop addresses whose last event is older than the window.

    A dropped address's unreported refusals go unreported; when every remembered
    address is recent (a flood from very many addresses), start afresh.
    """
    for client_ip, seen in list(_refused_key_events.items()):
        if now - seen.audited_at >= REFUSED_KEY_EVENT_EVERY_SECONDS:
            del _refused_key_events[client_ip]
    if len(_refused_key_events) >= REFUSED_KEY_ADDRESSES_REMEMBERED:
        _refused_key_events.clear()


class LastAdminError(ValueError):
    """A project keeps at least one admin: the last one cannot be removed or demoted."""


def _locked_membership(membership: Membership) -> Membership:
    """The membership read afresh under a row lock, after the project's admin rows are locked."""
    # Admin rows first, always in the same order, so two admins removing each other cannot deadlock.
    admins = Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.ADMIN)
    list(admins.order_by("pk").values_list("pk", flat=True))
    return Membership.objects.select_for_update().select_related("project", "user").get(pk=membership.pk)


def _refuse_losing_the_last_admin(membership: Membership) -> None:
    others = Membership.objects.filter(project_id=membership.project_id, role=Role.ADMIN).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise LastAdminError(
            f"{membership.user.get_username()} is the last admin of {membership.project.slug}; "
            "make someone else admin first."
        )


@transaction.atomic
def change_member_role(*, membership: Membership, role: str, actor: Actor) -> Membership:
    """Change a member's role, refusing to demote the project's last admin."""
    membership = _locked_membership(membership)
    if role != Role.ADMIN:
        _refuse_losing_the_last_admin(membership)
    return set_membership(project=membership.project, user=membership.user, role=role, actor=actor)


@transaction.atomic
def remove_member(*, membership: Membership, actor: Actor) -> None:
    """Take a user out of a project, refusing to remove its last admin."""
    membership = _locked_membership(membership)
    _refuse_losing_the_last_admin(membership)
    record_event(
        action="member.removed",
        actor=actor,
        target=membership,
        project=membership.project,
        payload={"user": membership.user.get_username(), "from": membership.role, "to": None},
    )
    membership.delete()
    membership_changed.send(
        Membership,
        project=membership.project,
        user=membership.user,
        role_before=membership.role,
        role=None,
        actor=actor,
    )
