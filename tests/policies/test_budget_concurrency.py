"""Reserving budget is atomic: simultaneous requests never spend more than the budget."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from governance.policies.models import BudgetUsage
from governance.policies.services import reserve_budget
from tests.factories import make_environment

REQUESTS, AFFORDABLE = 30, 10


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_for_the_last_of_the_budget_accept_exactly_what_it_covers():
    environment = make_environment()
    now = timezone.now()
    start = threading.Barrier(REQUESTS)
    accepted: list[bool] = []

    def request() -> None:
        try:
            start.wait()
            with transaction.atomic():
                accepted.append(
                    reserve_budget(
                        environment_id=environment.pk, now=now, amount=Decimal("0.40"), budget=Decimal("4.00")
                    )
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert accepted.count(True) == AFFORDABLE and len(accepted) == REQUESTS
    assert BudgetUsage.objects.get(environment=environment).spent == Decimal("4.00")


CLIENTS, SUBMISSIONS, COVERED = 50, 100, 10


@pytest.mark.django_db(transaction=True)
def test_a_hundred_submissions_racing_for_the_last_of_the_budget_accept_exactly_ten():
    from django.test import Client

    from governance.generations.models import Generation
    from tests.factories import OLD, make_api_key

    environment = make_environment(default_model=OLD, allowed_snapshots=[OLD], monthly_budget=Decimal("4.00"))
    key = make_api_key(environment)
    start = threading.Barrier(CLIENTS)
    statuses: list[int] = []

    def client() -> None:
        gateway = Client()
        try:
            start.wait()
            for _ in range(SUBMISSIONS // CLIENTS):
                response = gateway.post(
                    "/v1/videos",
                    {"prompt": "a race", "model": OLD, "seconds": "4"},  # $0.40 each: the budget covers ten
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {key}",
                )
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * COVERED + [403] * (SUBMISSIONS - COVERED)
    # Accepted, whatever the session's live Celery worker (tests/conftest.py) has done with them since.
    assert Generation.objects.exclude(status="refused").count() == COVERED
    assert Generation.objects.filter(status="refused", error_code="budget_exceeded").count() == SUBMISSIONS - COVERED
    assert BudgetUsage.objects.get(environment=environment).spent == Decimal("4.00")
