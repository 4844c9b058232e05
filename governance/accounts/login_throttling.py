"""Login throttling: too many failed sign-ins lock a username (and, if configured, an address) out for a while.

Counted in the database, so every web node sees the same count and a lockout holds
everywhere; the lockout itself is an audit event (`login.locked`). A successful
sign-in clears the count.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.models import LoginThrottle
from governance.audit.services import Actor, record_event

LOGIN_LOCKED = "login.locked"


def _subjects(username: str, ip: str) -> dict[str, int]:
    """Each throttled subject of an attempt, with its failure limit."""
    subjects = {f"user:{username.strip().lower()[:150]}": settings.LOGIN_FAILURE_LIMIT}
    if settings.LOGIN_FAILURE_LIMIT_PER_IP and ip:
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
    """Count a failed sign-in; return when the lockout it started ends, if it started one."""
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
            if throttle.failures >= limit:
                locked = _lock(throttle, username=username, ip=ip, now=now)
            throttle.save()
    return locked


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


def note_successful_login(*, username: str, ip: str) -> None:
    LoginThrottle.objects.filter(subject__in=_subjects(username, ip)).delete()
