"""What /readyz checks: the database answers, the broker accepts a connection, a worker was seen lately."""

import logging
import time
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

WORKER_HEARTBEAT_KEY = "governance:worker-heartbeat"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def run_checks() -> list[Check]:
    """Every check, each failing one also in the server log with its detail."""
    checks = [_check("database", database_answers), _check("broker", broker_connects), _check("worker", worker_seen)]
    for check in checks:
        if not check.ok:
            logger.warning("readiness check %s failing: %s", check.name, check.detail)
    return checks


def _check(name: str, probe) -> Check:
    try:
        ok, detail = probe()
    except Exception as error:  # a check that cannot even run has failed; say why, briefly
        ok, detail = False, f"{type(error).__name__}: {str(error)[:200]}"
    return Check(name=name, ok=ok, detail=detail)


def database_answers() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


def broker_connects() -> tuple[bool, str]:
    with current_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True, broker.transport_cls


def worker_seen() -> tuple[bool, str]:
    seen = cache.get(WORKER_HEARTBEAT_KEY)
    if not seen:
        return False, "no worker heartbeat recorded"
    age = time.time() - seen["at"]
    limit = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    detail = f"{seen['worker']} seen {age:.0f}s ago"
    return age <= limit, detail if age <= limit else f"{detail}, more than {limit}s"


def record_worker_heartbeat(worker: str) -> None:
    cache.set(WORKER_HEARTBEAT_KEY, {"worker": worker, "at": time.time()}, timeout=None)
