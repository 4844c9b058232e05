"""Completion callbacks, as a provider sends them: a POST to the address a job was created with, once it ends.

A simulated job does not run anywhere (its state is derived from the clock), so each web process keeps
the callbacks of the jobs it accepted in a heap and a daemon thread posts each one when its job's time
is up. Like a real provider's, a callback can be lost (the process restarts, the receiver is away; one
attempt, a 5 s timeout): the gateway polls anyway. `SIMULATOR_CALLBACKS=0` keeps the thread from starting
(tests deliver with `deliver_due`). A held job's end can move after it was scheduled (bench/inflight.py
holds its jobs a day, then releases them), so the thread reads again, every RECHECK_SECONDS, the ends of the
pending jobs due more than HELD_SECONDS away.
"""

import datetime as dt
import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from governance.simulator.models import SimulatedVideo

logger = logging.getLogger(__name__)

# (video) -> the body the dialect posts, in its provider's shape.
Body = Callable[[SimulatedVideo], dict]


@dataclass(order=True)
class Pending:
    due: dt.datetime
    video_id: str = field(compare=False)
    url: str = field(compare=False)
    body: Body = field(compare=False)


RECHECK_SECONDS = 5.0
RECHECK_BATCH = 500
HELD_SECONDS = 3600

_pending: list[Pending] = []
_lock = threading.Condition()
_thread: threading.Thread | None = None


def schedule(video: SimulatedVideo, url: str, body: Body) -> None:
    """Post `body(video)` to `url` once the job has ended (its latency from its creation)."""
    due = video.created_at + dt.timedelta(seconds=video.latency_seconds)
    with _lock:
        heapq.heappush(_pending, Pending(due, video.video_id, url, body))
        _lock.notify()
    if settings.SIMULATOR_CALLBACKS:
        _start()


def recheck_ends(now: dt.datetime | None = None) -> int:
    """Read again the ends of the pending jobs due more than HELD_SECONDS after `now`; how many moved."""
    held_until = (now or timezone.now()) + dt.timedelta(seconds=HELD_SECONDS)
    with _lock:
        video_ids = [pending.video_id for pending in _pending if pending.due > held_until]
    if not video_ids:
        return 0
    ends = {}
    for start in range(0, len(video_ids), RECHECK_BATCH):
        rows = SimulatedVideo.objects.filter(video_id__in=video_ids[start : start + RECHECK_BATCH])
        for video_id, created_at, latency in rows.values_list("video_id", "created_at", "latency_seconds"):
            ends[video_id] = created_at + dt.timedelta(seconds=latency)
    moved = 0
    with _lock:
        for pending in _pending:
            end = ends.get(pending.video_id, pending.due)
            if end != pending.due:
                pending.due = end
                moved += 1
        if moved:
            heapq.heapify(_pending)
    return moved


def deliver_due(now: dt.datetime | None = None, client: httpx.Client | None = None) -> int:
    """Post every callback whose job has ended by `now`; how many were posted (answered or not)."""
    now = now or timezone.now()
    sent = 0
    while True:
        with _lock:
            if not _pending or _pending[0].due > now:
                return sent
            pending = heapq.heappop(_pending)
        video = SimulatedVideo.objects.filter(video_id=pending.video_id).first()
        if video is None:
            continue
        video.observe(now)
        if not video.is_finished:  # its latency was changed since (a profile, the bench): look again later
            schedule(video, pending.url, pending.body)
            continue
        _post(client, pending.url, pending.body(video))
        sent += 1


def _post(client: httpx.Client | None, url: str, body: dict) -> None:
    try:
        if client is not None:
            client.post(url, json=body, timeout=5)
        else:
            httpx.post(url, json=body, timeout=5)
    except httpx.HTTPError as error:
        logger.info("callback to %s failed: %s", url.split("?")[0], error)


def _start() -> None:
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(target=_run, name="simulator-callbacks", daemon=True)
        _thread.start()


def _run() -> None:
    client = httpx.Client()  # one connection kept alive to the gateway, not one per callback
    next_recheck = time.monotonic()
    while True:
        with _lock:
            wait = (_pending[0].due - timezone.now()).total_seconds() if _pending else 60.0
            if wait > 0:
                _lock.wait(timeout=min(wait, RECHECK_SECONDS if _pending else 60.0))
        try:
            if time.monotonic() >= next_recheck:  # not on every wake-up: each new job wakes the thread
                recheck_ends()
                next_recheck = time.monotonic() + RECHECK_SECONDS
            deliver_due(client=client)
        except Exception:  # the thread must outlive a database hiccup; the callback is lost, polling covers it
            logger.exception("simulated callbacks failed")
        finally:
            close_old_connections()
