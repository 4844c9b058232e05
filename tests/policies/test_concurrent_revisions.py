"""Two revisions of one environment at once: each is numbered after the other, or refused cleanly, never a 500."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from governance.policies.models import PolicyRevision
from governance.projects.models import Environment, Role
from tests.factories import OLD, make_member, make_project, revise, simulator_provider

ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two writers at once need a database that runs them at once"
)


def someone_waits_on_a_lock(timeout: float = 5.0) -> bool:
    """Whether another connection of this database is blocked on a lock (PostgreSQL), within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction reads one snapshot throughout
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_a_first_revision_written_while_another_is_uncommitted_waits_and_becomes_revision_2():
    simulator_provider()
    environment = Environment.objects.create(project=make_project(), name="staging")
    first_written = threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                revise(environment, default_model=OLD, allowed_snapshots=[OLD], reason="first policy, by Ada")
                first_written.set()
                outcomes["second waited"] = someone_waits_on_a_lock()
            outcomes["first"] = "saved"
        except BaseException as error:
            outcomes["first"] = repr(error)
        finally:
            first_written.set()
            connection.close()

    def second() -> None:
        first_written.wait(5)
        try:
            revision = revise(environment, default_model=OLD, allowed_snapshots=[OLD], reason="first policy, by Bo")
            outcomes["second"] = revision.number
        except BaseException as error:  # the unique revision number's IntegrityError, before the lock
            outcomes["second"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": "saved", "second waited": True, "second": 2}
    reasons = list(environment.policy_revisions.order_by("number").values_list("number", "reason"))
    assert reasons == [(1, "first policy, by Ada"), (2, "first policy, by Bo")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protected, answers", [(False, [302, 302]), (True, [302, 403])])
def test_two_admins_saving_an_environments_first_policy_at_once_get_clean_answers(protected, answers):
    simulator_provider()
    project = make_project("shop")
    environment = Environment.objects.create(project=project, name="testing", protected=protected)
    admins = [make_member(project, Role.ADMIN) for _ in range(2)]
    start = threading.Barrier(2)
    statuses: list[object] = []

    def save_first_policy(admin) -> None:
        client = Client()
        client.force_login(admin)
        try:
            start.wait()
            response = client.post(
                reverse("policies:policy_editor", args=["shop", "testing"]),
                {
                    "provider": "simulator",
                    "default_model": OLD,
                    "allowed_snapshots": [OLD],
                    "alias_requests": "refuse",
                    "reason": f"First policy of testing, by {admin.username}",
                },
            )
            statuses.append(response.status_code)
        except BaseException as error:
            statuses.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=save_first_policy, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses, key=str) == answers
    numbers = PolicyRevision.objects.filter(environment=environment).order_by("number").values_list("number", flat=True)
    assert list(numbers) == list(range(1, answers.count(302) + 1))
