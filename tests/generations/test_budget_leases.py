"""A gateway process pays for budgeted submissions from a lease on the month's budget, not the spend row."""

import datetime as dt
import os
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from governance.generations import budget_leases
from governance.generations.models import Generation
from governance.generations.tasks import settle_budget_leases
from governance.policies.models import BudgetLease, BudgetUsage
from governance.policies.selectors import month_start
from governance.policies.services import reserve_budget
from governance.projects.models import Role
from tests.factories import OLD, make_api_key, make_environment, make_member, revise, spent_this_month

START = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
FOUR_SECONDS = {"prompt": "a lighthouse", "model": OLD, "seconds": "4"}  # $0.40


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def budgeted(production):
    """$100 a month: a lease is a twentieth of what is left, $5.00, twelve submissions at $0.40."""
    revise(production, monthly_budget=Decimal("100"))
    return production


@pytest.fixture
def post(api, django_capture_on_commit_callbacks):
    """A request as the gateway serves it: its transaction commits (a lease it took is held from then on)."""

    def post(body=FOUR_SECONDS):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("videos", body)

    return post


def usage(environment) -> BudgetUsage:
    return BudgetUsage.objects.get(environment=environment)


def settle_after_expiry(clock) -> int:
    clock.shift(dt.timedelta(seconds=10) + budget_leases.SETTLE_AFTER)
    return settle_budget_leases()


def test_submissions_pay_from_one_lease_without_writing_the_spend_row(post, budgeted, clock):
    for _ in range(3):
        assert post().status_code == 200

    lease = BudgetLease.objects.get()
    assert lease.amount == Decimal("4.80")  # twelve submissions at $0.40, under a twentieth of $100
    assert (usage(budgeted).spent, usage(budgeted).leased) == (0, Decimal("4.80"))
    assert set(Generation.objects.values_list("budget_lease", flat=True)) == {lease.pk}
    assert spent_this_month(budgeted) == Decimal("1.20")


def test_the_project_page_shows_what_was_drawn_on_leases_not_what_they_hold(client, post, budgeted):
    for _ in range(2):
        post()
    client.force_login(make_member(budgeted.project, Role.VIEWER))

    page = client.get(reverse("dashboard:project_detail", args=[budgeted.project.slug])).content.decode()

    assert "$0.80 of $100.00 spent this month (1%)" in page


def test_a_used_up_lease_is_followed_by_the_next(post, budgeted, clock):
    for _ in range(13):
        assert post().status_code == 200

    first, second = BudgetLease.objects.order_by("pk")
    assert Generation.objects.filter(budget_lease=first.pk).count() == 12
    assert Generation.objects.filter(budget_lease=second.pk).count() == 1
    assert usage(budgeted).leased == first.amount + second.amount
    assert spent_this_month(budgeted) == Decimal("5.20")


def test_settling_an_expired_lease_spends_what_its_generations_cost_and_frees_the_rest(post, budgeted, clock):
    for _ in range(3):
        post()
    clock.shift(dt.timedelta(seconds=10))
    assert settle_budget_leases() == 0  # a request that drew on it may still be committing

    assert settle_after_expiry(clock) == 1

    assert not BudgetLease.objects.exists()
    assert (usage(budgeted).spent, usage(budgeted).leased) == (Decimal("1.20"), 0)
    assert spent_this_month(budgeted) == Decimal("1.20")


def test_a_process_that_dies_holding_a_lease_loses_only_time(post, budgeted, clock):
    post()
    budget_leases.forget_held_leases()  # the process that held it is gone

    post()

    assert BudgetLease.objects.count() == 2
    assert spent_this_month(budgeted) == Decimal("0.80")
    settle_after_expiry(clock)
    assert (usage(budgeted).spent, usage(budgeted).leased) == (Decimal("0.80"), 0)


def test_a_lease_is_not_drawn_on_after_the_budget_changes(post, budgeted, clock):
    post()
    revise(budgeted, monthly_budget=Decimal("200"))

    post()

    old, new = BudgetLease.objects.order_by("pk")
    assert Generation.objects.filter(budget_lease=new.pk).count() == 1
    assert new.amount == Decimal("9.60")  # a twentieth of the $195.20 left, in whole $0.40 submissions


def test_a_lease_taken_in_a_transaction_that_rolls_back_is_never_drawn_on(
    budgeted, clock, django_capture_on_commit_callbacks
):
    def draw() -> int | None:
        return budget_leases.draw_on_lease(
            environment_id=budgeted.pk, now=START, amount=Decimal("0.40"), budget=Decimal("100")
        )

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():  # a comparison run that fails after submitting
            rolled_back = draw()
            raise RuntimeError
    assert not BudgetLease.objects.filter(pk=rolled_back).exists()

    with django_capture_on_commit_callbacks(execute=True):
        drawn = draw()

    assert BudgetLease.objects.filter(pk=drawn).exists()  # a new lease (SQLite may give it the same id)
    assert BudgetUsage.objects.get(environment=budgeted).leased == BudgetLease.objects.get(pk=drawn).amount


def test_a_lease_taken_in_a_transaction_joins_the_lease_taken_meanwhile(
    budgeted, clock, django_capture_on_commit_callbacks
):
    def draw() -> int | None:
        return budget_leases.draw_on_lease(
            environment_id=budgeted.pk, now=START, amount=Decimal("0.40"), budget=Decimal("100")
        )

    with django_capture_on_commit_callbacks(execute=True):  # each lease is held when this block "commits"
        with transaction.atomic():  # an Idempotency-Key's request
            in_transaction = draw()
        meanwhile = draw()  # another request, before the first committed: it takes its own lease
    for _ in range(21):  # what both leases have left: 11 and 10 submissions
        draw()

    assert {in_transaction, meanwhile} == set(BudgetLease.objects.values_list("pk", flat=True))
    assert Generation.objects.count() == 0  # drawing alone writes no generation


def test_in_a_transaction_a_request_reserves_on_the_spend_row_rather_than_wait_for_another_requests_lease(
    budgeted, clock
):
    taking, done = threading.Event(), threading.Event()

    def another_request_taking_a_lease() -> None:
        with budget_leases._environment_lock(budgeted.pk):
            taking.set()
            done.wait(10)

    other = threading.Thread(target=another_request_taking_a_lease)
    other.start()
    taking.wait(10)
    try:
        with transaction.atomic():
            drawn = budget_leases.draw_on_lease(
                environment_id=budgeted.pk, now=START, amount=Decimal("0.40"), budget=Decimal("100")
            )
    finally:
        done.set()
        other.join()

    assert drawn is None
    assert not BudgetLease.objects.exists()


def test_requests_with_an_idempotency_key_pay_from_one_lease(api, budgeted, clock, django_capture_on_commit_callbacks):
    for key in ("first", "second", "third"):
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post("videos", FOUR_SECONDS, headers={"Idempotency-Key": key}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api.post("videos", FOUR_SECONDS, headers={"Idempotency-Key": "first"})  # a retry: the same generation

    assert BudgetLease.objects.count() == 1
    assert Generation.objects.count() == 3
    assert spent_this_month(budgeted) == Decimal("1.20")


def test_a_request_begun_over_a_minute_ago_draws_on_no_lease(post, budgeted, clock):
    post()
    lease = BudgetLease.objects.get()

    drawn = budget_leases.draw_on_lease(
        environment_id=budgeted.pk, now=START - dt.timedelta(seconds=61), amount=Decimal("0.40"), budget=Decimal("100")
    )

    assert drawn is None
    assert BudgetLease.objects.get() == lease


def test_two_sweeps_at_once_settle_a_lease_once(post, budgeted, clock):
    from governance.policies.services import settle_budget_lease

    post()
    lease = BudgetLease.objects.get()
    settled = [settle_budget_lease(lease, used=lambda: Decimal("0.40")) for _ in range(2)]

    assert settled == [True, False]
    assert (usage(budgeted).spent, usage(budgeted).leased) == (Decimal("0.40"), 0)


def test_a_lease_is_not_drawn_on_after_it_expires(post, budgeted, clock):
    post()
    clock.shift(dt.timedelta(seconds=10))

    post()

    assert BudgetLease.objects.count() == 2


def test_a_refund_of_a_generation_drawn_on_a_lease_survives_its_settling(post, budgeted, clock):
    from governance.policies.services import release_budget

    post()
    failed = Generation.objects.get()
    release_budget(environment_id=budgeted.pk, month=failed.budget_month, amount=failed.estimated_cost)
    assert spent_this_month(budgeted) == 0

    settle_after_expiry(clock)

    assert (usage(budgeted).spent, usage(budgeted).leased) == (0, 0)


def test_near_the_limit_each_submission_reserves_its_cost_on_the_spend_row(post, production, clock):
    revise(production, monthly_budget=Decimal("4.00"))  # a twentieth is less than ten submissions' worth

    statuses = [post().status_code for _ in range(11)]

    assert statuses == [200] * 10 + [403]
    assert not BudgetLease.objects.exists()
    assert usage(production).spent == Decimal("4.00")


def test_leases_shrink_as_the_budget_runs_out_and_stop_near_the_limit(post, budgeted, clock):
    BudgetUsage.objects.create(environment=budgeted, month=month_start(START), spent=Decimal("90"))

    post()

    assert not BudgetLease.objects.exists()  # $10 left: a twentieth is one submission's worth
    assert usage(budgeted).spent == Decimal("90.40")


def test_what_a_lease_holds_unused_is_refused_to_others_until_it_is_settled(post, budgeted, clock):
    post()  # this process holds $4.80, $4.40 of it unused
    BudgetUsage.objects.filter(environment=budgeted).update(spent=Decimal("94.80"))
    now = dt.datetime.now(dt.UTC)

    def another_process_reserves() -> bool:
        return reserve_budget(environment_id=budgeted.pk, now=now, amount=Decimal("0.40"), budget=Decimal("100"))

    assert another_process_reserves()  # $94.80 + $4.80 leased + $0.40 = $100
    assert not another_process_reserves()
    settle_after_expiry(clock)
    now = dt.datetime.now(dt.UTC)
    assert another_process_reserves()


def test_a_forked_process_does_not_draw_on_its_parents_lease(post, budgeted, clock):
    post()
    assert budget_leases._held
    read, write = os.pipe()

    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, b"empty" if not budget_leases._held else b"inherited")
        os._exit(0)
    os.waitpid(child, 0)

    assert os.read(read, 16) == b"empty"


def test_no_lease_when_leases_are_turned_off(post, budgeted, clock, settings):
    settings.BUDGET_LEASE_SECONDS = 0

    post()

    assert not BudgetLease.objects.exists()
    assert usage(budgeted).spent == Decimal("0.40")


THREADS, EACH = 20, 15


@pytest.mark.django_db(transaction=True)
def test_threads_racing_through_leases_accept_exactly_what_the_budget_covers():
    environment = make_environment(default_model=OLD, allowed_snapshots=[OLD], monthly_budget=Decimal("100"))
    key = make_api_key(environment)
    start = threading.Barrier(THREADS)
    statuses: list[int] = []

    def client() -> None:
        gateway = Client()
        try:
            start.wait()
            for _ in range(EACH):
                statuses.append(
                    gateway.post(
                        "/v1/videos", FOUR_SECONDS, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
                    ).status_code
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses.count(200) == 250 and statuses.count(403) == THREADS * EACH - 250
    assert BudgetLease.objects.exists()
    assert spent_this_month(environment) == Decimal("100")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
        settle_budget_leases()
    assert (usage(environment).spent, usage(environment).leased) == (Decimal("100"), 0)


def test_the_api_answers_the_same_with_and_without_a_lease(post, budgeted, clock, settings):
    leased = post().json()
    settings.BUDGET_LEASE_SECONDS = 0
    budget_leases.forget_held_leases()
    reserved = post().json()

    assert {k: v for k, v in leased.items() if k not in ("id", "created_at")} == {
        k: v for k, v in reserved.items() if k not in ("id", "created_at")
    }
