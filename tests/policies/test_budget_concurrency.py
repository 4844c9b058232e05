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
