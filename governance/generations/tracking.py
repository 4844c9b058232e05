"""Tracking the jobs a provider is running: which are due a poll, polling them in batches, and handing over.

Once a job is upstream, the worker's step chain (worker.py, tasks.advance_generation) hands
the generation to the tracker: its step token becomes `TRACKED_STEP` and nothing is written
again until its state changes. A beat task (`tasks.track_generations`) picks the tracked
generations that are due a poll and sends one message per batch of one provider's jobs;
`poll_batch` asks the provider about the batch (in one call where it has a list endpoint) and:

- writes only a status change (queued -> in progress), conditionally, never a poll's progress;
- hands a finished job (and a deleted, overdue or broken one) back to the step chain, through
  the same token claim as every step, so that archiving and completing happen exactly once; a
  finished job's answer is left in the cache for that step (`leave_finished_jobs`), so the step
  archives it without asking the provider again;
- does nothing on a retryable error: the job is due again at its next poll time.

"Due" is a pure function of the job's age (since the provider took it) and the snapshot's
expected duration (`PollSchedule`), so a lost tick or batch message loses nothing, and nothing
is written between polls. The sweep leaves tracked generations alone while the tracker runs
(its heartbeat is fresh) and restarts them through the step chain when it does not.
"""

import dataclasses
import datetime as dt
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.module_loading import import_string

from governance.catalog.models import Provider
from governance.generations.models import TRACKED_STEP, Generation, new_step_token
from governance.generations.providers import ADAPTERS, adapter_for
from governance.generations.providers.base import MediaLink, UpstreamJob
from governance.generations.upstream import UpstreamError

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "generations:tracker:tick"
# A tick catches up at most this far back: after a longer pause every job is due at once anyway.
MAX_CATCH_UP_SECONDS = 60.0
# How many recent completed jobs of a snapshot say how long its jobs take, and for how long that is kept.
RECENT_JOBS = 100
EXPECTED_CACHE_SECONDS = 60.0
CALLBACK_SALT = "generations.callback"
FINISHED_UPSTREAM = "finished upstream"  # the timeline's mark of when the tracker saw the job finished
FINISHED_JOB_KEY = "generations:finished-job:{}"  # a finished job's answer, left for the step that archives it
# How long that answer waits for its step: a busy worker's queue can hold a step for minutes, and the providers'
# links last hours (BytePlus 24 h); a download that fails anyway is retried with a fresh read.
FINISHED_JOB_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class PollSchedule:
    """When a job is polled, by its age in seconds since the provider took it.

    The first poll is at `first` (with GENERATION_POLL_FIRST_SHARE, shortly before the snapshot's fastest
    recent job finished; by default at `every`, as a job finishing sooner than any before would be seen late),
    then every `every` seconds until that is less than `share` of the age, then every `share`
    of the age: so a job is seen finished within max(every, share x age) of its end, and a job
    of age a has been polled about log(a) times, not a / every.
    """

    first: float
    every: float
    share: float

    def polls_by(self, age: float) -> int:
        """How many polls the schedule has made by `age` (the poll at exactly `age` included)."""
        if age < self.first:
            return 0
        switch = self.every / self.share  # the age from which share x age is the longer wait
        first = max(self.first, 1e-3)
        if first >= switch:
            return 1 + self._geometric_steps(age / first)
        linear = math.ceil((switch - first) / self.every)
        geometric_from = first + linear * self.every
        if age < geometric_from:
            return 1 + math.floor((age - first) / self.every + 1e-9)
        return linear + 1 + self._geometric_steps(age / geometric_from)

    def _geometric_steps(self, ratio: float) -> int:
        return math.floor(math.log(ratio) / math.log1p(self.share) + 1e-9)

    def due(self, previous_age: float, age: float) -> bool:
        """Whether a poll falls in (previous_age, age]: the window one tick of the tracker covers."""
        return self.polls_by(age) > self.polls_by(previous_age)

    def poll_ages(self, until: float) -> Iterator[float]:
        """The ages at which `polls_by` counts each poll, in order, up to `until`.

        A job is due in a tick's window when one of these ages falls inside it; the tracker asks the database for
        the jobs whose age does, rather than reading every job in flight each tick.
        """
        first = max(self.first, 1e-3)
        switch = self.every / self.share
        geometric_from = first
        if first < switch:
            linear = math.ceil((switch - first) / self.every)
            for step in range(linear):
                if first + step * self.every > until:
                    return
                yield first + step * self.every
            geometric_from = first + linear * self.every
        step, age = 0, geometric_from
        while age <= until:
            yield age
            step += 1
            age = geometric_from * (1 + self.share) ** step


def schedule_for(expected_seconds: float, *, calm: bool = False) -> PollSchedule:
    """The schedule for a job of a snapshot whose fastest recent job took `expected_seconds`.

    `calm`: the provider calls back when the job finishes, so polling is only the fallback.
    """
    every, share = settings.GENERATION_POLL_MIN_SECONDS, settings.GENERATION_POLL_SHARE
    if calm:
        every, share = every * settings.GENERATION_POLL_CALM_FACTOR, share * settings.GENERATION_POLL_CALM_FACTOR
    return PollSchedule(
        first=max(every, settings.GENERATION_POLL_FIRST_SHARE * expected_seconds), every=every, share=share
    )


_expected: dict[str, tuple[float, float]] = {}


def expected_seconds(snapshot: str) -> float:
    """A low estimate of how long the snapshot's jobs take at the provider: the shortest of its 100 newest
    completed jobs (0 while it has fewer than ten), read at most once a minute per process. A job's time is
    until the tracker saw it finished ("finished upstream" on its timeline), not until it was archived, so a
    slow archive does not push the first poll later; without the mark (polled by its own messages) it is
    until completion."""
    now = time.monotonic()
    known = _expected.get(snapshot)
    if known is not None and now - known[1] < EXPECTED_CACHE_SECONDS:
        return known[0]
    recent = (
        Generation.objects.filter(
            resolved_snapshot=snapshot, status=Generation.Status.COMPLETED, started_at__isnull=False
        )
        .order_by("-created_at")
        .values_list("started_at", "completed_at", "timeline")[:RECENT_JOBS]
    )
    durations = [(_finished_upstream(timeline) or completed) - started for started, completed, timeline in recent]
    value = min(duration.total_seconds() for duration in durations) if len(durations) >= 10 else 0.0
    _expected[snapshot] = (max(0.0, value), now)
    return _expected[snapshot][0]


def _finished_upstream(timeline: list) -> dt.datetime | None:
    for entry in timeline:
        if entry.get("status") == FINISHED_UPSTREAM:
            return dt.datetime.fromisoformat(entry["at"])
    return None


def tracker_alive() -> bool:
    """Whether the tracker has ticked lately: a tracked generation is then polled without a message of its own."""
    if not settings.GENERATION_TRACK_SECONDS:
        return False
    last = cache.get(HEARTBEAT_KEY)
    return last is not None and time.time() - last < settings.GENERATION_STALL_SECONDS


def _tick_window(now: float) -> float:
    """The start of the window this tick covers (where the last tick ended), and note this tick's end."""
    last = cache.get(HEARTBEAT_KEY)
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    if last is None:
        return now - settings.GENERATION_TRACK_SECONDS
    return max(min(last, now), now - MAX_CATCH_UP_SECONDS)


def due_batches(now: dt.datetime | None = None) -> list[tuple[int, list[int]]]:
    """The tracked generations due a poll in this tick, as (provider id, up to a batch of generation ids).

    The database picks them: a job is due when one of its schedule's poll ages falls in the tick's window, that
    is when it started within that window shifted back by the age, one range of the tracked generations' index
    (by provider and start) per poll age. So a tick reads the jobs it polls, not every job in flight. A job
    running longer than any may is due at once: the step chain ends it. (A tracked job has its start: it is set
    with its upstream id, before the step hands the job over.)
    """
    now = (now or timezone.now()).astimezone(dt.UTC)  # ages in seconds, not across a local clock's changes
    window = now - dt.datetime.fromtimestamp(_tick_window(now.timestamp()), tz=dt.UTC)
    tracked = Generation.objects.filter(step_token=TRACKED_STEP).order_by()
    overdue = now - dt.timedelta(seconds=settings.GENERATION_MAX_UPSTREAM_SECONDS)
    due = Q(pk__in=[])
    for provider_id, oldest, snapshot, schedule in _schedules(tracked):
        started_in_window = Q(started_at__lt=overdue)
        oldest_age = (now - oldest).total_seconds() + 1e-3  # an age equal to the oldest job's, whatever the rounding
        for age in schedule.poll_ages(min(oldest_age, settings.GENERATION_MAX_UPSTREAM_SECONDS)):
            shifted = now - dt.timedelta(seconds=age)
            started_in_window |= Q(started_at__gt=shifted - window, started_at__lte=shifted)
        group = Q(provider_id=provider_id) & (Q(resolved_snapshot=snapshot) if snapshot is not None else Q())
        due |= group & started_in_window
    ids: dict[int, list[int]] = defaultdict(list)
    for pk, provider_id in tracked.filter(due, status__in=Generation.UNFINISHED).values_list("pk", "provider_id"):
        ids[provider_id].append(pk)
    size = settings.GENERATION_POLL_BATCH
    return [(provider, pks[i : i + size]) for provider, pks in ids.items() for i in range(0, len(pks), size)]


def _schedules(tracked: QuerySet) -> list[tuple[int, dt.datetime, str | None, PollSchedule]]:
    """The groups of tracked jobs polled alike: (provider id, its oldest tracked start, snapshot, schedule).

    By provider, calmer where it calls back; by snapshot too (else None) where the first poll follows the
    snapshot's history (GENERATION_POLL_FIRST_SHARE, off by default), which reads each provider's tracked
    snapshots. A provider's oldest start is one probe of the index, however many jobs are tracked.
    """
    oldest = tracked.filter(provider_id=OuterRef("pk"), started_at__isnull=False).order_by("started_at")
    providers = [
        (pk, started)
        for pk, started in Provider.objects.annotate(oldest=Subquery(oldest.values("started_at")[:1])).values_list(
            "pk", "oldest"
        )
        if started is not None
    ]
    calm_providers = _providers_calling_back()
    if not settings.GENERATION_POLL_FIRST_SHARE:
        return [(pk, started, None, schedule_for(0.0, calm=pk in calm_providers)) for pk, started in providers]
    return [
        (pk, started, snapshot, schedule_for(expected_seconds(snapshot), calm=pk in calm_providers))
        for pk, started in providers
        for snapshot in tracked.filter(provider_id=pk).values_list("resolved_snapshot", flat=True).distinct()
    ]


def _providers_calling_back() -> set[int]:
    """The providers whose adapter sends our callback address with each job (polling is then the fallback)."""
    if not settings.GENERATION_CALLBACK_URL:
        return set()
    kinds = [kind for kind, path in ADAPTERS.items() if import_string(path).callbacks]
    return set(Provider.objects.filter(kind__in=kinds).values_list("pk", flat=True))


@dataclasses.dataclass
class BatchOutcome:
    """What one poll batch did: jobs asked about, status changes written, and generations handed over."""

    polled: int = 0
    changed: int = 0
    handed_over: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    finished_jobs: dict[int, UpstreamJob] = dataclasses.field(default_factory=dict)


def poll_batch(provider_id: int, generation_ids: Iterable[int]) -> BatchOutcome:
    """Ask the provider about a batch of its tracked jobs and act on what changed (see the module)."""
    outcome = BatchOutcome()
    generations = [
        generation
        for generation in _by_primary_key(generation_ids)
        if generation.provider_id == provider_id
        and generation.step_token == TRACKED_STEP
        and generation.status in Generation.UNFINISHED
    ]
    if not generations:
        return outcome
    to_poll = [generation for generation in generations if not _needs_the_chain(generation)]
    for generation in generations:
        if generation not in to_poll:
            _hand_over(generation, outcome)
    if not to_poll:
        return outcome
    try:
        adapter = adapter_for(to_poll[0].provider)
    except UpstreamError:
        for generation in to_poll:
            _hand_over(generation, outcome)  # the step chain records why the provider cannot be used
        return outcome
    answers = adapter.retrieve_many(to_poll)
    for generation in to_poll:
        outcome.polled += 1
        answer = answers.get(generation.pk)
        if isinstance(answer, UpstreamJob):
            _apply(generation, answer, outcome)
        elif isinstance(answer, UpstreamError) and not answer.retryable:
            _hand_over(generation, outcome)  # a job gone or refused: the step chain fails it with the reason
    leave_finished_jobs(outcome.finished_jobs)
    return outcome


def _by_primary_key(generation_ids: Iterable[int]) -> list[Generation]:
    """The batch's rows, found by primary key alone; the caller keeps those still tracked.

    With the provider and the step token in the WHERE clause too, PostgreSQL chose the partial index of tracked
    jobs (provider, started_at) and read every job the provider has in flight to find the batch's fifty: with 3,000
    in flight, 2,950 rows thrown away and 1.87 ms per batch, against 0.39 ms by primary key.
    """
    return list(
        Generation.objects.select_related("provider")
        .filter(pk__in=list(generation_ids))
        .only(*BATCH_FIELDS)
        .order_by()  # a batch in any order: no sort, and no ORDER BY for Django to compile over the join
    )


# What a poll batch reads of each row: the adapters' polls need the job's id, the tracker the rest (`video_id` names
# the row in logs). A job is read about twenty times while it runs, so its other thirty-odd columns are not loaded
# each time; tests/generations/providers/test_tracked_polls.py holds that no adapter's poll reads one.
BATCH_FIELDS = (
    "provider",
    "video_id",
    "upstream_id",
    "status",
    "step_token",
    "timeline",
    "request_id",
    "created_at",
    "started_at",
    "deleted_at",
)


def _needs_the_chain(generation: Generation) -> bool:
    """Deleted by its client, or running past the longest a job may: the step chain ends it."""
    if generation.deleted_at is not None:
        return True
    started = generation.started_at or generation.created_at
    return (timezone.now() - started).total_seconds() > settings.GENERATION_MAX_UPSTREAM_SECONDS


def _apply(generation: Generation, job: UpstreamJob, outcome: BatchOutcome) -> None:
    if job.finished:
        generation.add_to_timeline(FINISHED_UPSTREAM, job.status)  # when we saw it: archiving follows
        if _hand_over(generation, outcome, timeline=generation.timeline):
            outcome.finished_jobs[generation.pk] = job
    elif job.status != generation.status:
        if note_status(generation, job.status):
            outcome.changed += 1


def note_status(generation: Generation, status: str) -> bool:
    """A tracked job's new status (queued -> in progress), in one conditional UPDATE; progress is not written."""
    previous = generation.status
    generation.status = status
    generation.add_to_timeline(status)
    return bool(
        Generation.objects.filter(pk=generation.pk, step_token=TRACKED_STEP, status=previous).update(
            status=status, timeline=generation.timeline
        )
    )


def _hand_over(generation: Generation, outcome: BatchOutcome, *, timeline: list | None = None) -> bool:
    if step := hand_over(generation, timeline=timeline):
        outcome.handed_over.append((generation.pk, step, generation.request_id))
    return bool(step)


def hand_over(generation: Generation, *, timeline: list | None = None) -> str | None:
    """Give a tracked generation back to the step chain with a new waiting token (once, whoever else tries): the
    token its step message must carry, or None when it was not tracked any more.

    Until that message is taken, the sweep sends it again from `next_check_at`, so a lost one loses nothing.
    """
    step = new_step_token()
    wait = timezone.now() + dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS)
    values = {"step_token": step, "next_check_at": wait, "sweeps": 0}
    if timeline is not None:
        values["timeline"] = timeline
    taken = Generation.objects.filter(pk=generation.pk, step_token=TRACKED_STEP).update(**values)
    return step if taken else None


def leave_finished_jobs(jobs: dict[int, UpstreamJob]) -> None:
    """Keep each finished job's answer, by generation, for the step that archives it, so that step does not ask
    the provider a second time for what the tracker has just been told (one call fewer per job).

    Kept in the cache for FINISHED_JOB_SECONDS (a step that comes later asks the provider), never in a broker
    message, the database or the logs. A job whose links need a credential (a provider's key in their headers) or
    that carries the video's bytes is not kept: its step asks the provider.
    """
    kept = {FINISHED_JOB_KEY.format(pk): portable for pk, job in jobs.items() if (portable := _portable(job))}
    if not kept:
        return
    try:
        cache.set_many(kept, timeout=FINISHED_JOB_SECONDS)
    except Exception:  # the steps ask the provider instead
        logger.warning("could not keep %s finished jobs for their steps", len(kept), exc_info=True)


def take_finished_job(generation: Generation) -> UpstreamJob | None:
    """The finished job the tracker left for this generation's step, once: a retried step asks the provider."""
    key = FINISHED_JOB_KEY.format(generation.pk)
    try:
        kept = cache.get(key)
        if kept is None:
            return None
        cache.delete(key)
        job = UpstreamJob(**{**kept, "video": _link(kept["video"]), "thumbnail": _link(kept["thumbnail"])})
    except Exception:  # the cache is away, or the entry is not one this code wrote: ask the provider
        logger.info("generation %s: no usable finished job kept by the tracker", generation.pk, exc_info=True)
        return None
    return job if job.id == generation.upstream_id and job.finished else None


def _portable(job: UpstreamJob) -> dict | None:
    links = [link for link in (job.video, job.thumbnail) if link is not None]
    if any(link.headers or link.data is not None for link in links):
        return None
    return dataclasses.asdict(job)


def _link(kept: dict | None) -> MediaLink | None:
    return MediaLink(**kept) if kept is not None else None


def tracking_deadline(generation: Generation) -> dt.datetime:
    """When the sweep gives up waiting for the tracker: past the longest a job may run, plus a stall time."""
    started = generation.started_at or timezone.now()
    return started + dt.timedelta(seconds=settings.GENERATION_MAX_UPSTREAM_SECONDS + settings.GENERATION_STALL_SECONDS)


def untracked_if_the_tracker_stopped() -> Q:
    """The tracked generations the sweep should restart: all of them while the tracker is not ticking."""
    return Q(step_token=TRACKED_STEP) if not tracker_alive() else Q(pk__in=[])


# Callbacks: the address a provider calls when a job finishes names the generation, signed, so nobody
# can make the gateway poll jobs that are not theirs; the body is never trusted, the job is polled.
def callback_token(generation_id: int) -> str:
    return signing.Signer(salt=CALLBACK_SALT).sign(str(generation_id))


def generation_for_callback(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=CALLBACK_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
