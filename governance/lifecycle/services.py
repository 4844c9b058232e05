"""Lifecycle alerts and their delivery: inbox, email, signed webhooks and chat (Slack, Teams), each change with its
audit event."""

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.catalog.models import Snapshot
from governance.lifecycle import chat, signing
from governance.lifecycle.chat import ChatMessage, absolute_url
from governance.lifecycle.destinations import (
    PrivateDestinationError,
    delivery_transport,
    refuse_private_destination,
)
from governance.lifecycle.models import ALERT_THRESHOLDS, ShutdownAlert, Webhook, WebhookDelivery, dependency_sentence
from governance.lifecycle.selectors import Dependency, dependencies, followers_of_alias
from governance.notifications.services import notify
from governance.projects import permissions
from governance.projects.models import Environment, Membership, Project

logger = logging.getLogger(__name__)

WEBHOOK_MAX_ATTEMPTS = 6
# Only an answer's status counts; of its body, at most this much is read, so no receiver can fill a worker's memory.
WEBHOOK_ANSWER_MAX_BYTES = 64 * 1024
WEBHOOK_DELETED = "Not sent: the webhook was deleted."
# Of a chat platform's answer, this much is kept for the delivery log: Slack answers a failure with a short
# code such as `channel_is_archived` (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
CHAT_ANSWER_SHOWN = 100
SYSTEM = Actor.system("lifecycle")
ALIASES_URL = "/catalog/#aliases-heading"


def migration_plan_url(project_slug: str, environment_name: str, to_snapshot: str = "") -> str:
    """Where a migration plan for an environment starts, prefilled with its target."""
    query = {"environment": environment_name}
    if to_snapshot:
        query["to"] = to_snapshot
    return reverse("snapshot_migrations:plan_create", args=[project_slug]) + "?" + urlencode(query)


def impact_url(snapshot: Snapshot) -> str:
    """The impact page of one snapshot: for members who may read about a shutdown but not plan the move."""
    return reverse("lifecycle:impact") + "?" + urlencode({"snapshot": snapshot.pk})


def alert_threshold(days_left: int) -> int | None:
    """The tightest threshold a snapshot `days_left` from shutdown has crossed, or None when none yet."""
    crossed = [threshold for threshold in ALERT_THRESHOLDS if days_left <= threshold]
    return min(crossed) if crossed else None


def raise_shutdown_alerts(*, now: dt.datetime | None = None, email: bool = True) -> list[ShutdownAlert]:
    """Alert every environment depending on a snapshot that has crossed a threshold, once per threshold.

    Each alert reaches the members' inbox, the dashboard and the project's webhooks; with `email=False`
    (the demo's seed) no email is sent.

    Only the tightest crossed threshold fires: an environment that starts depending on a
    snapshot 20 days before its shutdown hears "within 30 days" once, not 90, 60 and 30 at once.
    Thresholds count towards the shutdown date in force: when a provider moves it, those already
    fired for the old date do not silence the new one.
    """
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    horizon = today + dt.timedelta(days=max(ALERT_THRESHOLDS))
    due = {
        (snapshot.provider_id, snapshot.name): snapshot
        for snapshot in Snapshot.objects.filter(shutdown_on__isnull=False, shutdown_on__lte=horizon).select_related(
            "provider", "replacement"
        )
    }
    already = set(
        ShutdownAlert.objects.filter(snapshot__in=due.values()).values_list(
            "environment_id", "snapshot_id", "shutdown_on", "threshold_days"
        )
    )
    raised = []
    for dependency in dependencies():
        snapshot = due.get((dependency.provider_id, dependency.snapshot))
        if snapshot is None:
            continue
        threshold = alert_threshold((snapshot.shutdown_on - today).days)
        key = (dependency.environment.pk, snapshot.pk, snapshot.shutdown_on, threshold)
        if threshold is not None and key not in already:
            alert = _raise_once(dependency, snapshot, threshold, now, email=email)
            if alert is not None:
                raised.append(alert)
    return raised


def _raise_once(
    dependency: Dependency, snapshot: Snapshot, threshold: int, now: dt.datetime, *, email: bool
) -> ShutdownAlert | None:
    environment = dependency.environment
    try:
        with transaction.atomic():
            alert = ShutdownAlert.objects.create(
                environment=environment,
                snapshot=snapshot,
                threshold_days=threshold,
                shutdown_on=snapshot.shutdown_on,
                dependency=dependency.how,
                created_at=now,
            )
            record_event(
                action="lifecycle.shutdown_alert",
                actor=SYSTEM,
                target=alert,
                project=environment.project,
                environment=environment,
                payload={
                    "snapshot": snapshot.name,
                    "threshold_days": threshold,
                    "shutdown_on": snapshot.shutdown_on.isoformat(),
                    "dependency": dependency.how,
                },
            )
            _deliver_alert(alert, snapshot, email=email)
    except IntegrityError:  # raised before, perhaps by a concurrent run
        return None
    return alert


def _deliver_alert(alert: ShutdownAlert, snapshot: Snapshot, *, email: bool) -> None:
    environment = alert.environment
    project = environment.project
    replacement = snapshot.replacement.name if snapshot.replacement_id else ""
    title = f"{project.name} / {environment.get_name_display()}: {alert.headline}"
    url = migration_plan_url(project.slug, environment.name, replacement)
    _tell_members(
        project,
        kind="lifecycle.shutdown_alert",
        title=title,
        body=f"{alert.dependency_sentence} " + recovery_advice(snapshot),
        url=url,
        readers_url=impact_url(snapshot),
        readers_body=f"{alert.dependency_sentence} " + readers_advice(project),
        email=email,
    )
    enqueue_webhooks(
        project,
        "snapshot.shutdown_alert",
        {
            "project": project.slug,
            "environment": environment.name,
            "snapshot": snapshot.name,
            "provider": snapshot.provider.slug,
            "dependency": alert.dependency,
            "threshold_days": alert.threshold_days,
            "shutdown_date": snapshot.shutdown_on.isoformat(),
            "replacement": replacement or None,
        },
        message=ChatMessage(
            title=title,
            text=f"{alert.dependency_sentence} " + recovery_advice(snapshot),
            link=absolute_url(url),
            link_label="Plan the migration",
            facts=_snapshot_facts(environment, snapshot),
        ),
    )


def _snapshot_facts(environment: Environment, snapshot: Snapshot) -> tuple[tuple[str, str], ...]:
    """Where and what, for a message about one environment's snapshot."""
    facts = [
        ("Project", environment.project.name),
        ("Environment", environment.get_name_display()),
        ("Snapshot", f"{snapshot.name} ({snapshot.provider.name})"),
        ("Shuts down", f"{snapshot.shutdown_on:%Y-%m-%d}"),
    ]
    if snapshot.replacement_id:
        facts.append(("Replacement", snapshot.replacement.name))
    return tuple(facts)


def recovery_advice(snapshot: Snapshot) -> str:
    """How to recover, in one sentence the alert, the email and the environment's page share."""
    if snapshot.replacement_id:
        return f"Migrate to its replacement {snapshot.replacement.name} with a migration plan."
    return "It has no named replacement: choose another snapshot (any provider) and migrate with a migration plan."


def readers_advice(project: Project) -> str:
    """What a member who may not plan a migration can do about a shutdown."""
    return f"Moving it to another snapshot takes a migration plan: ask a developer or an admin of {project.name}."


def announce_shutdown_dates(
    *, provider, snapshots: Iterable[Snapshot], previous_shutdown_dates: dict[str, dt.date | None] | None = None
) -> None:
    """A new or moved shutdown date: tell every project whose environments depend on the snapshot, now.

    `previous_shutdown_dates` names each snapshot's date before the change (None when it had none), so a
    moved date is told as a move.
    """
    previous_shutdown_dates = previous_shutdown_dates or {}
    by_name = {snapshot.name: snapshot for snapshot in snapshots}
    affected: dict[int, list[Dependency]] = defaultdict(list)
    for dependency in dependencies():
        if dependency.provider_id == provider.pk and dependency.snapshot in by_name:
            affected[dependency.environment.project_id].append(dependency)
    for found in affected.values():
        project = found[0].environment.project
        for dependency in found:
            snapshot = by_name[dependency.snapshot]
            environment = dependency.environment
            replacement = snapshot.replacement.name if snapshot.replacement_id else ""
            previous = previous_shutdown_dates.get(snapshot.name)
            title = f"{project.name} / {environment.get_name_display()}: {shutdown_date_news(snapshot, previous)}"
            body = f"{provider.name} announced it. {dependency_sentence(dependency.how)} " + recovery_advice(snapshot)
            url = migration_plan_url(project.slug, environment.name, replacement)
            _tell_members(
                project,
                kind="lifecycle.shutdown_announced",
                title=title,
                body=body,
                url=url,
                readers_url=impact_url(snapshot),
                readers_body=f"{provider.name} announced it. {dependency_sentence(dependency.how)} "
                + readers_advice(project),
            )
            enqueue_webhooks(
                project,
                "snapshot.shutdown_date_changed",
                {
                    "project": project.slug,
                    "environment": environment.name,
                    "snapshot": snapshot.name,
                    "provider": provider.slug,
                    "dependency": dependency.how,
                    "shutdown_date": snapshot.shutdown_on.isoformat(),
                    "previous_shutdown_date": previous.isoformat() if previous else None,
                    "replacement": replacement or None,
                },
                message=ChatMessage(
                    title=title,
                    text=body,
                    link=absolute_url(url),
                    link_label="Plan the migration",
                    facts=_snapshot_facts(environment, snapshot),
                ),
            )


def shutdown_date_news(snapshot: Snapshot, previous: dt.date | None) -> str:
    """A snapshot's shutdown date as news: first announced, or moved from an earlier announcement."""
    if previous is None or previous == snapshot.shutdown_on:
        return f"{snapshot.name} shuts down on {snapshot.shutdown_on:%Y-%m-%d}"
    return f"{snapshot.name} now shuts down on {snapshot.shutdown_on:%Y-%m-%d} (was {previous:%Y-%m-%d})"


def announce_alias_move(*, alias, from_snapshot: str, to_snapshot: str, reason: str, drift: bool) -> None:
    """An alias moved (re-pointed in the catalog, or drifting at the provider): tell the projects following it."""
    by_project: dict[int, list[Environment]] = defaultdict(list)
    for environment in followers_of_alias(alias.provider_id, alias.name):
        by_project[environment.project_id].append(environment)
    what = "ran on" if drift else "now points at"
    for environments in by_project.values():
        project = environments[0].project
        names = ", ".join(environment.get_name_display() for environment in environments)
        title = f"{project.name}: alias {alias.name} {what} {to_snapshot} (was {from_snapshot})"
        body = f"{names} follow{'s' if len(environments) == 1 else ''} this alias. {reason}".strip()
        _tell_members(
            project,
            kind="lifecycle.alias_drift" if drift else "lifecycle.alias_repointed",
            title=title,
            body=body,
            url=ALIASES_URL,
        )
        enqueue_webhooks(
            project,
            "alias.drifted" if drift else "alias.repointed",
            {
                "project": project.slug,
                "environments": [environment.name for environment in environments],
                "provider": alias.provider.slug,
                "alias": alias.name,
                "from": from_snapshot,
                "to": to_snapshot,
                "reason": reason,
            },
            message=ChatMessage(
                title=title,
                text=body,
                link=absolute_url(ALIASES_URL),
                link_label="See the aliases",
                facts=(("Project", project.name), ("Environments", names), ("Provider", alias.provider.name)),
            ),
        )


def ask_for_review(*, provider, snapshots: Iterable[Snapshot]) -> None:
    """Site admins review what a sync discovered: until then no policy may use it."""
    from django.contrib.auth import get_user_model

    admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
    names = ", ".join(snapshot.name for snapshot in snapshots)
    notify(
        admins,
        kind="lifecycle.snapshot_discovered",
        title=f"{provider.name} lists new snapshots awaiting your review: {names}",
        body="No policy may use them until a site admin marks them reviewed in the catalog.",
        url="/catalog/#providers-heading",
    )


def _tell_members(
    project: Project,
    *,
    kind: str,
    title: str,
    body: str,
    url: str,
    readers_url: str = "",
    readers_body: str = "",
    email: bool = True,
) -> None:
    """Inbox for every member; unless `email` is off, email for those with an address, sent once committed.

    With `readers_url` (and `readers_body`), members who may not plan a migration get them instead of
    `url` and `body`: a migration plan's form would only refuse them.
    """
    members_by_message: dict[tuple[str, str], list] = defaultdict(list)
    for membership in Membership.objects.filter(project=project).select_related("user"):
        reader = readers_url and not permissions.role_allows(membership.role, permissions.PLAN_MIGRATION)
        message = (readers_url, readers_body or body) if reader else (url, body)
        members_by_message[message].append(membership.user)
    for (link, text), members in members_by_message.items():
        notify(members, kind=kind, title=title, body=text, url=link, project=project)
        addresses = sorted({user.email for user in members if user.email and user.is_active})
        if email and addresses:
            _email_once_committed(title, text, link, addresses)


def _email_once_committed(title: str, body: str, url: str, addresses: list[str]) -> None:
    link = settings.SITE_URL.rstrip("/") + url if url.startswith("/") else url
    message = (title, f"{body}\n\n{link}\n", settings.DEFAULT_FROM_EMAIL, addresses)
    transaction.on_commit(lambda: _send_email(message))


def _send_email(message: tuple) -> None:
    try:
        send_mass_mail([message], fail_silently=False)
    except Exception:  # an unreachable mail server must not undo or stop the alert
        logger.warning("could not send lifecycle email %r", message[0], exc_info=True)


# Webhooks


@transaction.atomic
def create_webhook(
    *, project: Project, url: str, description: str, actor: Actor, kind: str = Webhook.Kind.SIGNED
) -> tuple[Webhook, str | None]:
    """A new webhook; a signed one's secret is returned once for the admin to copy (None for Slack and Teams).

    Only encrypted secrets are stored: a signed webhook's signing secret, or a Slack or Teams destination's
    URL, which is shown from then on only masked, here and in the audit event alike.
    Raises PrivateDestinationError for a URL inside a private network (see `destinations`).
    """
    refuse_private_destination(url)
    secret = None
    if kind in Webhook.CHAT_KINDS:
        shown, stored = {"url": signing.masked_url(url), "encrypted_url": signing.encrypt_secret(url)}, {}
    else:
        secret = signing.new_secret()
        shown, stored = {"url": url}, {"encrypted_secret": signing.encrypt_secret(secret)}
    webhook = Webhook.objects.create(
        project=project, kind=kind, description=description, created_by=actor.user, **shown, **stored
    )
    record_event(
        action="webhook.created",
        actor=actor,
        target=webhook,
        project=project,
        payload={"url": webhook.url, "kind": kind, "description": description},
    )
    return webhook, secret


@transaction.atomic
def delete_webhook(*, webhook: Webhook, actor: Actor) -> None:
    """Stop a webhook: its secret is wiped and its waiting deliveries cancelled; its delivery log stays.

    Deleting an already deleted webhook does nothing.
    """
    now = timezone.now()
    if not Webhook.objects.active().filter(pk=webhook.pk).update(deleted_at=now, encrypted_secret="", encrypted_url=""):
        return
    webhook.deleted_at, webhook.encrypted_secret, webhook.encrypted_url = now, "", ""
    cancelled = _cancel_waiting_deliveries(WebhookDelivery.objects.filter(webhook=webhook))
    record_event(
        action="webhook.deleted",
        actor=actor,
        target=webhook,
        project=webhook.project,
        payload={"url": webhook.url, "description": webhook.description, "cancelled_deliveries": cancelled},
    )


def _cancel_waiting_deliveries(deliveries) -> int:
    return deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.CANCELLED, next_attempt_at=None, last_error=WEBHOOK_DELETED
    )


def enqueue_webhooks(
    project: Project, event_type: str, data: dict, message: ChatMessage | None = None
) -> list[WebhookDelivery]:
    """One delivery per webhook of the project, handed to the worker once the transaction commits.

    A signed webhook is sent `{"type", "timestamp", "data"}`; a Slack or Teams destination is sent `message`
    in its platform's format (none, for an event without one). Each delivery keeps the body it is sent.
    """
    event = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    deliveries = []
    for webhook in Webhook.objects.active().filter(project=project):
        if webhook.is_chat and message is None:
            continue
        payload = chat.render(webhook.kind, message) if webhook.is_chat else event
        deliveries.append(
            WebhookDelivery.objects.create(
                webhook=webhook, event_type=event_type, payload=payload, next_attempt_at=timezone.now()
            )
        )
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: enqueue_delivery(pk))
    return deliveries


def enqueue_delivery(delivery_id: int, countdown: float = 0) -> None:
    from governance.lifecycle.tasks import deliver_webhook

    try:
        deliver_webhook.apply_async(args=[delivery_id], countdown=countdown)
    except Exception:
        logger.warning("could not enqueue webhook delivery %s; the retry sweep will", delivery_id, exc_info=True)


def webhook_backoff(attempt: int) -> float:
    """30 s, 1 min, 2 min, 4 min, 8 min between the six attempts."""
    return 30.0 * 2 ** (attempt - 1)


def attempt_delivery(delivery_id: int, *, transport: httpx.BaseTransport | None = None) -> float | None:
    """POST one delivery, signed; record the outcome. Returns seconds until the retry, or None when done."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    if delivery.webhook.is_deleted:  # deleted while this attempt was on its way
        _cancel_waiting_deliveries(WebhookDelivery.objects.filter(pk=delivery.pk))
        return None
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    answer = ""
    try:
        status, answer = _post(delivery, now, transport)
    except (httpx.HTTPError, signing.SecretUnreadable, PrivateDestinationError) as error:
        status, delivery.last_error = None, _without_secret_url(str(error) or type(error).__name__, delivery)[:300]
    delivery.response_status = status
    retry_in = None
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = WebhookDelivery.Status.DELIVERED, now, ""
    else:
        if status is not None:
            said = f": {answer}" if answer else ""
            delivery.last_error = f"The endpoint answered HTTP {status}{said}."
        if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
        else:
            retry_in = webhook_backoff(delivery.attempts)
    delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in) if retry_in is not None else None
    delivery.save()
    return retry_in


def _post(delivery: WebhookDelivery, now: dt.datetime, transport) -> tuple[int, str]:
    """Send the delivery; return the answer's status and, from Slack or Teams, the start of what it said.

    All within WEBHOOK_ATTEMPT_SECONDS. A signed webhook's body is signed; a Slack or Teams destination is
    authenticated by its secret URL alone, as those platforms expect, and is sent nothing else.
    """
    deadline = time.monotonic() + settings.WEBHOOK_ATTEMPT_SECONDS
    webhook = delivery.webhook
    url = signing.decrypt_secret(webhook.encrypted_url) if webhook.is_chat else webhook.url
    refuse_private_destination(url)
    body = (
        chat.encoded(delivery.payload)
        if webhook.is_chat
        else json.dumps(delivery.payload, separators=(",", ":")).encode()
    )
    headers = {"content-type": "application/json", "user-agent": "snapshot-governance-webhooks"}
    if not webhook.is_chat:
        headers.update(_signature_headers(delivery, now, body))
    transport = transport or delivery_transport(url, deadline=deadline)
    timeout = settings.WEBHOOK_ATTEMPT_SECONDS
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        with client.stream("POST", url, content=body, headers=headers) as answer:
            start = _read_some_of(answer, deadline=deadline)
            return answer.status_code, _readable(start) if webhook.is_chat else ""


def _signature_headers(delivery: WebhookDelivery, now: dt.datetime, body: bytes) -> dict[str, str]:
    secret = signing.decrypt_secret(delivery.webhook.encrypted_secret)
    timestamp = int(now.timestamp())
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature(secret, delivery.message_id, timestamp, body),
    }


def _read_some_of(answer: httpx.Response, *, deadline: float) -> bytes:
    """Read the answer's body up to WEBHOOK_ANSWER_MAX_BYTES and until the deadline, then leave the rest unread.

    Returns the first CHAT_ANSWER_SHOWN bytes read. The status has arrived by now and decides the outcome;
    a body that is long, slow or cut short changes nothing. Raw bytes, never decompressed: a small gzip
    body must not unpack into a large one here.
    """
    if answer.is_stream_consumed:  # an answer read already, by a transport that reads answers whole
        return answer.content[:CHAT_ANSWER_SHOWN]
    start, read = b"", 0
    try:
        for chunk in answer.iter_raw():
            start += chunk[: CHAT_ANSWER_SHOWN - len(start)]
            read += len(chunk)
            if read >= WEBHOOK_ANSWER_MAX_BYTES or time.monotonic() >= deadline:
                break
    except httpx.TransportError:
        pass
    return start


def _readable(start: bytes) -> str:
    """The start of a chat platform's answer as one line of printable text, for the delivery log."""
    text = start.decode("utf-8", errors="replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _without_secret_url(error: str, delivery: WebhookDelivery) -> str:
    """An error's words with a Slack or Teams destination's URL masked, should a library have quoted it."""
    webhook = delivery.webhook
    if not webhook.is_chat or not webhook.encrypted_url:
        return error
    try:
        url = signing.decrypt_secret(webhook.encrypted_url)
    except signing.SecretUnreadable:
        return error
    return error.replace(url, webhook.url)


def retry_due_deliveries(*, now: dt.datetime | None = None) -> int:
    """Re-enqueue pending deliveries whose attempt is overdue (their message was lost with a worker or broker).

    A receiver may then see a delivery twice; it has the same `webhook-id`, which receivers deduplicate on.
    """
    now = now or timezone.now()
    overdue = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).filter(
        next_attempt_at__lt=now - dt.timedelta(minutes=5)
    )
    ids = list(overdue.values_list("pk", flat=True)[:500])
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    return len(ids)
