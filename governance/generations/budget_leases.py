"""Paying for budgeted submissions from a lease held in this process's memory.

Every budgeted submission used to add its cost to the month's spend row in the statement that inserted it, so
the submissions to one environment queued on that row's lock, each holding it through its commit's flush to
disk: a quarter of a budgeted environment's throughput (docs/benchmarks.md). Now a process takes a slice of
what is left of the budget (`policies.services.take_budget_lease`, one short transaction), pays for the
submissions it accepts from that slice in memory, and marks each generation with the lease.

A lease is drawn on only by submissions begun within its lifetime (give or take `REQUEST_LIFETIME`), while the
policy's budget is the one it was taken under, in the process that took it, and, by its other requests, once
the transaction that took it has committed. A migration plan's comparison runs, submitted together in the plan's
transaction, reserve on the spend row instead. `SETTLE_AFTER` the lease expired, once every request that drew
on it has surely committed, the sweep settles it: what its generations cost goes into the month's `spent`, the
rest is given back. A process that dies holding a lease loses nothing but time: its lease is settled the same way.

A lease is a twentieth of what is left, in whole submissions at the cost of the one that takes it, at most 500.
Near the limit, where that is fewer than ten, each submission reserves its cost on the spend row as before.

A budget is never overspent: money in a lease counts as committed until the lease is settled. What a lease holds
unused is unavailable to the other processes until then, so near the limit a submission may be refused while
other processes' leases hold what it needs, for up to `BUDGET_LEASE_SECONDS` + `SETTLE_AFTER` + the sweep's
interval, and then accepted. Settling assumes what `SETTLE_AFTER` says: a generation drawn on a lease is
committed within minutes, and the hosts' clocks agree to within minutes.
"""

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from governance.generations.models import Generation
from governance.policies.models import BudgetLease, BudgetUsage
from governance.policies.selectors import month_start
from governance.policies.services import settle_budget_lease, take_budget_lease

# A request begun this long before a lease was taken may still draw on it (one process's requests take their
# turns on the lease in another order than they began), and one begun longer ago than this draws on no lease.
REQUEST_LIFETIME = dt.timedelta(seconds=60)
# A lease is settled this long after it expired: far longer than a request takes from drawing on it to committing
# its generation (gunicorn's worker timeout is 30 s), and than the clocks of the hosts that draw and settle differ.
SETTLE_AFTER = dt.timedelta(minutes=5)
SETTLE_BATCH = 500


@dataclass
class _HeldLease:
    pk: int | None  # None: no lease could be had; until it expires, submissions reserve on the spend row
    month: dt.date
    budget: Decimal
    left: Decimal
    taken_at: dt.datetime
    expires_at: dt.datetime

    def current(self, now: dt.datetime, budget: Decimal) -> bool:
        """Drawn on only within its lifetime and month, under the budget it was taken under."""
        return (
            self.taken_at - REQUEST_LIFETIME <= now < self.expires_at
            and budget == self.budget
            and month_start(now) == self.month
        )


# The leases this process holds, by environment id: usually one; more while a lease taken in a caller's transaction
# joins the one another request took meanwhile. Expired ones are dropped as they are met.
_held: dict[int, list[_HeldLease]] = {}
_lock = threading.Lock()  # guards _held and _environment_locks, never held while waiting for anything else
# One lock per environment: its submissions take their turns on its leases, and take the next one by one, while
# other environments' submissions go on.
_environment_locks: dict[int, threading.Lock] = {}
_NOTHING_HELD = object()


def _forget_in_child() -> None:
    """A forked child must not draw on its parent's leases, nor inherit a lock another thread of it held."""
    global _lock
    _lock = threading.Lock()
    _held.clear()
    _environment_locks.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def draw_on_lease(*, environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal) -> int | None:
    """Pay `amount` from this process's lease on the environment's budget, taking a new lease when none covers
    it; the lease's id, or None when no lease can be had (the caller reserves on the spend row).

    Inside a caller's transaction (an Idempotency-Key's) it does not wait for another request's turn: on SQLite
    that request's lease may be waiting for this transaction's write lock. It reserves on the spend row instead.
    """
    if not settings.BUDGET_LEASE_SECONDS or not amount:
        return None
    turn = _environment_lock(environment_id)
    if not turn.acquire(blocking=not transaction.get_connection().in_atomic_block):
        return None
    try:
        if timezone.now() - now > REQUEST_LIFETIME:  # after the wait for the turn, which may have been long
            return None
        drawn = _draw_on_held(environment_id, now, amount, budget)
        if drawn is not _NOTHING_HELD:
            return drawn
        held = _take(environment_id, now, amount, budget)
        if held.pk is None:
            _hold(environment_id, held)
            return None
        held.left -= amount  # ours alone until it is held
        # The process's other requests draw on it once it is committed: taken in a caller's transaction (an
        # Idempotency-Key's), it is rolled back with that, and never drawn on. Outside one, it is held at once.
        transaction.on_commit(partial(_hold, environment_id, held))
        return held.pk
    finally:
        turn.release()


def _draw_on_held(environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal) -> int | None | object:
    """The id of the held lease that paid `amount`; None if none could be had a moment ago; else _NOTHING_HELD."""
    with _lock:
        held_now = [held for held in _held.get(environment_id, ()) if held.current(now, budget)]
        _held[environment_id] = held_now
        for held in held_now:
            if held.pk is not None and amount <= held.left:
                held.left -= amount
                return held.pk
        if any(held.pk is None for held in held_now):
            return None
    return _NOTHING_HELD


def _environment_lock(environment_id: int) -> threading.Lock:
    with _lock:
        return _environment_locks.setdefault(environment_id, threading.Lock())


def _hold(environment_id: int, held: _HeldLease) -> None:
    with _lock:
        _held.setdefault(environment_id, []).append(held)


def forget_held_leases() -> None:
    """Stop drawing on the leases this process holds (they are settled when they expire)."""
    with _lock:
        _held.clear()


def _take(environment_id: int, now: dt.datetime, amount: Decimal, budget: Decimal) -> _HeldLease:
    seconds = settings.BUDGET_LEASE_SECONDS
    lease = take_budget_lease(
        environment_id=environment_id,
        now=now,
        amount=amount,
        budget=budget,
        seconds=seconds,
        holder=f"{socket.gethostname()}:{os.getpid()}",
    )
    if lease is None:
        return _HeldLease(None, month_start(now), budget, Decimal(0), now, now + dt.timedelta(seconds=seconds))
    return _HeldLease(lease.pk, lease.month, budget, lease.amount, lease.taken_at, lease.expires_at)


def settle_due_leases(now: dt.datetime) -> int:
    """Settle the leases nobody can still draw on: what their generations cost is spent, the rest is free again."""
    due = BudgetLease.objects.filter(expires_at__lte=now - SETTLE_AFTER).order_by("pk")[:SETTLE_BATCH]
    return sum(settle_budget_lease(lease, used=partial(_used, lease)) for lease in due)


def _used(lease: BudgetLease) -> Decimal:
    return _drawn_on([lease]).get(lease.pk, Decimal(0))


def month_spend(environment_ids: list[int], *, now: dt.datetime) -> dict[int, Decimal]:
    """What each environment's generations cost this month so far: the settled spend and what was drawn on
    leases not yet settled (not what the leases hold unused)."""
    month = month_start(now)
    spent = dict(
        BudgetUsage.objects.filter(environment__in=environment_ids, month=month).values_list("environment_id", "spent")
    )
    leases = list(BudgetLease.objects.filter(environment__in=environment_ids, month=month))
    used = _drawn_on(leases)
    for lease in leases:
        spent[lease.environment_id] = spent.get(lease.environment_id, Decimal(0)) + used.get(lease.pk, Decimal(0))
    return spent


def _drawn_on(leases: list[BudgetLease]) -> dict[int, Decimal]:
    """What the generations drawn on each lease cost, by lease id: read through the log's index by environment
    and time, since a lease's generations were created within its lifetime."""
    if not leases:
        return {}
    drawn = Generation.objects.filter(
        environment_id__in={lease.environment_id for lease in leases},
        created_at__gte=min(lease.taken_at for lease in leases) - REQUEST_LIFETIME,
        created_at__lt=max(lease.expires_at for lease in leases),
        budget_lease__in=[lease.pk for lease in leases],
    )
    per_lease = drawn.order_by().values("budget_lease").annotate(used=Sum("estimated_cost"))
    return {row["budget_lease"]: row["used"] for row in per_lease}
