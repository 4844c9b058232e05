"""Provider sync: read a provider's `GET /v1/models` and bring the catalog up to date.

OpenAI lists each model with an optional `shutdown_date` (YYYY-MM-DD). A sync
records a newly announced or moved shutdown date (the announcement also marks
the snapshot deprecated, if nothing did before) and adds models the catalog does
not know as unreviewed snapshots, which no policy may use until an admin reviews
them. A listing without a date never clears one: a provider that stops sending
the field has not un-announced a shutdown. Aliases are left alone, since
`/v1/models` does not say where they point.

The answer is validated as a whole before anything is written, so a provider that
is down or answers garbage changes nothing; the failure is recorded on the
provider (shown on the catalog page) and as an audit event. A provider that is
not configured here (its key variable unset) is not called at all: that is no
failure, and the catalog page says what to set.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

import httpx
from django.db import transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.catalog.connections import OPENAI_SHAPED_KINDS, ConnectionState, connection_for
from governance.catalog.events import shutdown_dates_changed, snapshots_discovered
from governance.catalog.models import SIMULATOR_BASE_URL, Alias, Provider, Snapshot

DATED_NAME = re.compile(r"^(?P<family>.+?)-\d{4}-\d{2}-\d{2}$")
MAX_MESSAGE = 500


class SyncError(Exception):
    """The provider could not be read, or answered something that is not a model list."""


class NotConfigured(SyncError):
    """The provider cannot be called from here as configured; it was not tried, so nothing failed."""


@dataclass(frozen=True)
class ListedModel:
    name: str
    shutdown_on: dt.date | None
    created: dt.date | None


@dataclass
class SyncResult:
    provider: str
    ok: bool
    message: str = ""
    not_synced: bool = False  # not configured here, so not called: neither synced nor failed
    shutdown_dates: list[dict] = field(default_factory=list)
    discovered: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.shutdown_dates or self.discovered)

    @property
    def state(self) -> str:
        """How this sync went: synced, failed or not_synced, as `Provider.sync_state` names them."""
        if self.not_synced:
            return "not_synced"
        return "synced" if self.ok else "failed"


def fetch_models(provider: Provider, *, transport: httpx.BaseTransport | None = None) -> list[ListedModel]:
    """The provider's model list over HTTP, with the provider's own base URL, key and timeouts."""
    headers = {"User-Agent": "snapshot-governance"}
    if not provider.lists_models or provider.kind not in OPENAI_SHAPED_KINDS:
        raise NotConfigured(
            f"Not synced: {provider.name} does not list its models' lifecycle over its API; "
            "the catalog pack is the source."
        )
    simulator_only = provider.base_url.startswith(SIMULATOR_BASE_URL)
    connection = connection_for(provider)
    if provider.api_key_env_var and not simulator_only and connection.state != ConnectionState.LIVE:
        raise NotConfigured(f"Not synced: set {provider.api_key_env_var} to sync.")
    if not connection.usable:
        raise NotConfigured("Not synced: the built-in simulator is not served here; set SIMULATOR_ENABLED=1 to sync.")
    if connection.credential:
        headers["Authorization"] = f"Bearer {connection.credential}"
    timeout = httpx.Timeout(provider.read_timeout, connect=provider.connect_timeout)
    try:
        with httpx.Client(headers=headers, timeout=timeout, transport=transport) as client:
            response = client.get(connection.base_url + "/models")
    except httpx.HTTPError as error:
        raise SyncError(f"{provider.name} could not be reached ({type(error).__name__}).") from error
    if response.status_code != 200:
        raise SyncError(f"{provider.name} answered GET /models with HTTP {response.status_code}.")
    try:
        body = response.json()
    except ValueError as error:
        raise SyncError(f"{provider.name} answered GET /models with something that is not JSON.") from error
    return parse_model_list(body)


def parse_model_list(body) -> list[ListedModel]:
    """OpenAI's list shape, checked entry by entry; any malformed entry rejects the whole answer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise SyncError("The answer is not a model list (no 'data' array).")
    models = []
    for index, entry in enumerate(body["data"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
            raise SyncError(f"Entry {index} of the model list has no model id.")
        models.append(
            ListedModel(
                name=entry["id"][:100],
                shutdown_on=_date_field(entry, index),
                created=_created(entry.get("created")),
            )
        )
    return models


def _date_field(entry: dict, index: int) -> dt.date | None:
    value = entry.get("shutdown_date")
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date(index, value)
    except ValueError:
        return _bad_date(index, value)


def _bad_date(index: int, value) -> None:
    raise SyncError(f"Entry {index} of the model list has a shutdown_date that is not YYYY-MM-DD: {str(value)[:40]!r}.")


def _created(value) -> dt.date | None:
    if isinstance(value, int) and value > 0:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC).date()
    return None


def sync_provider(
    provider: Provider, *, actor: Actor, now: dt.datetime | None = None, transport: httpx.BaseTransport | None = None
) -> SyncResult:
    """Read the provider's model list and apply it; never raises for a provider's failure."""
    now = now or timezone.now()
    try:
        listed = fetch_models(provider, transport=transport)
    except NotConfigured as reason:
        return _record_not_synced(provider, str(reason))
    except SyncError as error:
        return _record_failure(provider, str(error), actor=actor, now=now)
    return _apply(provider, listed, actor=actor, now=now)


def _record_not_synced(provider: Provider, message: str) -> SyncResult:
    """Nothing was tried and nothing changed, so no audit event: the catalog page says what to set."""
    message = message[:MAX_MESSAGE]
    Provider.objects.filter(pk=provider.pk).update(last_sync_ok=None, last_sync_message=message)
    return SyncResult(provider=provider.slug, ok=False, message=message, not_synced=True)


@transaction.atomic
def _record_failure(provider: Provider, message: str, *, actor: Actor, now: dt.datetime) -> SyncResult:
    message = message[:MAX_MESSAGE]
    Provider.objects.filter(pk=provider.pk).update(last_synced_at=now, last_sync_ok=False, last_sync_message=message)
    record_event(
        action="catalog.sync_failed",
        actor=actor,
        target=provider,
        payload={"provider": provider.slug, "error": message},
    )
    return SyncResult(provider=provider.slug, ok=False, message=message)


@transaction.atomic
def _apply(provider: Provider, listed: list[ListedModel], *, actor: Actor, now: dt.datetime) -> SyncResult:
    result = SyncResult(provider=provider.slug, ok=True)
    snapshots = {snapshot.name: snapshot for snapshot in Snapshot.objects.select_for_update().filter(provider=provider)}
    aliases = set(Alias.objects.filter(provider=provider).values_list("name", flat=True))
    moved = []
    for model in listed:
        if model.name in aliases:
            continue
        snapshot = snapshots.get(model.name)
        if snapshot is None:
            snapshots[model.name] = _discover(provider, model, actor=actor, now=now)
            result.discovered.append(model.name)
        elif model.shutdown_on is not None and model.shutdown_on != snapshot.shutdown_on:
            result.shutdown_dates.append(_announce_shutdown(snapshot, model.shutdown_on, actor=actor, now=now))
            moved.append(snapshot)
    result.message = _summary(result)
    Provider.objects.filter(pk=provider.pk).update(
        last_synced_at=now, last_sync_ok=True, last_sync_message=result.message
    )
    if moved:
        previous = {change["snapshot"]: _date(change["from"]) for change in result.shutdown_dates}
        shutdown_dates_changed.send(
            sender=Provider, provider=provider, snapshots=moved, previous_shutdown_dates=previous, actor=actor
        )
    if result.discovered:
        discovered = [snapshots[name] for name in result.discovered]
        snapshots_discovered.send(sender=Provider, provider=provider, snapshots=discovered, actor=actor)
    return result


def _discover(provider: Provider, model: ListedModel, *, actor: Actor, now: dt.datetime) -> Snapshot:
    match = DATED_NAME.match(model.name)
    snapshot = Snapshot.objects.create(
        provider=provider,
        name=model.name,
        family=match["family"] if match else model.name,
        released_on=model.created,
        shutdown_on=model.shutdown_on,
        deprecated_on=_deprecated_on(now, model.shutdown_on) if model.shutdown_on else None,
        reviewed=False,
        discovered_at=now,
    )
    record_event(
        action="snapshot.discovered",
        actor=actor,
        target=snapshot,
        payload={
            "provider": provider.slug,
            "snapshot": snapshot.name,
            "family": snapshot.family,
            "shutdown_on": _iso(model.shutdown_on),
        },
    )
    return snapshot


def _announce_shutdown(snapshot: Snapshot, shutdown_on: dt.date, *, actor: Actor, now: dt.datetime) -> dict:
    change = {"snapshot": snapshot.name, "from": _iso(snapshot.shutdown_on), "to": _iso(shutdown_on)}
    snapshot.shutdown_on = shutdown_on
    fields = ["shutdown_on"]
    if snapshot.deprecated_on is None:
        snapshot.deprecated_on = _deprecated_on(now, shutdown_on)
        change["deprecated_on"] = _iso(snapshot.deprecated_on)
        fields.append("deprecated_on")
    snapshot.save(update_fields=fields)
    record_event(
        action="snapshot.shutdown_date_changed",
        actor=actor,
        target=snapshot,
        payload={"provider": snapshot.provider.slug, **change},
    )
    return change


def _deprecated_on(now: dt.datetime, shutdown_on: dt.date) -> dt.date:
    """A shutdown announcement deprecates the snapshot from the day it is seen."""
    return min(now.astimezone(dt.UTC).date(), shutdown_on)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _date(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


def _summary(result: SyncResult) -> str:
    if not result.changed:
        return "In step with the provider: nothing changed."
    parts = []
    if result.shutdown_dates:
        parts.append("shutdown date: " + ", ".join(f"{c['snapshot']} → {c['to']}" for c in result.shutdown_dates))
    if result.discovered:
        parts.append("new, awaiting review: " + ", ".join(result.discovered))
    return ("; ".join(parts))[:MAX_MESSAGE]


@transaction.atomic
def review_snapshot(snapshot: Snapshot, *, actor: Actor) -> bool:
    """An admin accepts a discovered snapshot, so policies may use it; returns False when it already was."""
    if not Snapshot.objects.filter(pk=snapshot.pk, reviewed=False).update(reviewed=True):
        return False
    snapshot.reviewed = True
    record_event(
        action="snapshot.reviewed",
        actor=actor,
        target=snapshot,
        payload={"provider": snapshot.provider.slug, "snapshot": snapshot.name},
    )
    return True


def sync_all(*, actor: Actor, now: dt.datetime | None = None) -> list[SyncResult]:
    """Every provider with an HTTP base URL (the built-in simulator included, when it is served)."""
    return [sync_provider(provider, actor=actor, now=now) for provider in Provider.objects.order_by("slug")]
