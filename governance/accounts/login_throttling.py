"""Login throttling: too many failed sign-ins lock a username, or a client address, out for a while.

Counted in the database, so every web node sees the same count and a lockout holds
everywhere; the lockout itself is an audit event (`login.locked`). A successful
sign-in clears its username's count (not its address's: an account of one's own
must not reset the count of guesses at others').

Failed sign-ins are audited per address and minute, so a flood cannot flood the
audit chain: the first failure from an address in a minute is a `login.failed`
event, the later ones are counted on the address's row and written as one event
carrying their number, by the address's next event or by beat once the minute is over.
A flood is bounded in rows as well: once its address is locked out, its attempts are
refused before any password is checked, and write nothing.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.accounts.models import LoginThrottle
from governance.audit.services import Actor, record_event

LOGIN_FAILED = "login.failed"
LOGIN_LOCKED = "login.locked"
AUDIT_EVERY = dt.timedelta(minutes=1)


def _subjects(username: str, ip: str) -> dict[str, int]:
    """Each throttled subject of an attempt, with its failure limit (0: counted and audited, never locked)."""
    subjects = {f"user:{username.strip().lower()[:150]}": settings.LOGIN_FAILURE_LIMIT}
    if ip:
        subjects[f"ip:{ip}"] = settings.LOGIN_FAILURE_LIMIT_PER_IP
    return subjects


def locked_until(*, username: str, ip: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lockout on this attempt's username or address ends, or None if there is none."""
    now = now or timezone.now()
    ends = LoginThrottle.objects.filter(subject__in=_subjects(username, ip), locked_until__gt=now).values_list(
        "locked_until", flat=True
    )
    return max(ends, default=None)


def note_failed_login(*, username: str, ip: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """Count and audit a failed sign-in; return when the lockout it started ends, if it started one."""
    now = now or timezone.now()
    window = dt.timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    locked = None
    with transaction.atomic():
        for subject, limit in _subjects(username, ip).items():
            throttle, _ = LoginThrottle.objects.select_for_update().get_or_create(
                subject=subject, defaults={"window_started_at": now}
            )
            if throttle.window_started_at <= now - window:
                throttle.failures, throttle.window_started_at = 0, now
            throttle.failures += 1
            if limit and throttle.failures >= limit:
                locked = _lock(throttle, username=username, ip=ip, now=now)
            if subject.startswith("ip:"):
                _audit_failure(throttle, username=username, ip=ip, now=now)
            throttle.save()
        if not ip:  # no address to aggregate under (a sign-in without a request): one event each
            _record_failures(username=username, ip="", failures=1)
    return locked


def _audit_failure(throttle: LoginThrottle, *, username: str, ip: str, now: dt.datetime) -> None:
    """The address's first failure in a minute is an event (with the failures not yet recorded); later ones count."""
    if throttle.audited_at is not None and throttle.audited_at > now - AUDIT_EVERY:
        throttle.unaudited_failures += 1
        return
    _record_failures(username=username, ip=ip, failures=throttle.unaudited_failures + 1)
    throttle.audited_at, throttle.unaudited_failures = now, 0


def _record_failures(*, username: str, ip: str, failures: int) -> None:
    record_event(
        action=LOGIN_FAILED,
        actor=Actor.system("login"),
        payload={"username": username[:150], "ip": ip, "failures": failures},
    )


def _lock(throttle: LoginThrottle, *, username: str, ip: str, now: dt.datetime) -> dt.datetime:
    throttle.locked_until = now + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    record_event(
        action=LOGIN_LOCKED,
        actor=Actor.system("login"),
        payload={
            "username": username[:150],
            "ip": ip,
            "locked": throttle.subject.partition(":")[0],
            "failures": throttle.failures,
            "window_minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES,
            "locked_until": throttle.locked_until.isoformat(),
        },
    )
    throttle.failures, throttle.window_started_at = 0, now
    return throttle.locked_until


def note_successful_login(*, username: str) -> None:
    LoginThrottle.objects.filter(subject__in=_subjects(username, "")).delete()


def audit_counted_failures(*, now: dt.datetime | None = None) -> int:
    """Beat: write the failures counted in minutes that are over, one event per address; how many were written.

    Then forget rows with nothing left to count, record or lock: their window and lockout are
    over, so a new failure would start afresh anyway.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = LoginThrottle.objects.select_for_update().filter(
            unaudited_failures__gt=0, audited_at__lte=now - AUDIT_EVERY
        )
        written = 0
        for throttle in due:
            _record_failures(username="", ip=throttle.subject.partition(":")[2], failures=throttle.unaudited_failures)
            throttle.audited_at, throttle.unaudited_failures = now, 0
            throttle.save(update_fields=["audited_at", "unaudited_failures"])
            written += 1
        window = dt.timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
        LoginThrottle.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now),
            unaudited_failures=0,
            window_started_at__lte=now - window,
        ).delete()
    return written
