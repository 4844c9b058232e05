import threading

import pytest
from django.db import connection

from governance.audit.models import AuditEvent
from governance.projects.models import Membership, Role
from governance.projects.services import LastAdminError, change_member_role, remove_member
from tests.factories import SYSTEM, make_member, make_project

pytestmark = pytest.mark.django_db


def membership_of(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def test_removing_a_member_deletes_the_membership_and_audits_it():
    project = make_project()
    make_member(project, Role.ADMIN)
    viewer = membership_of(project, make_member(project, Role.VIEWER))

    remove_member(membership=viewer, actor=SYSTEM)

    assert not Membership.objects.filter(pk=viewer.pk).exists()
    event = AuditEvent.objects.get(action="member.removed")
    assert (event.project_id, event.payload["from"], event.payload["to"]) == (project.pk, "viewer", None)


def test_it_refuses_to_remove_the_last_admin():
    project = make_project()
    admin = membership_of(project, make_member(project, Role.ADMIN))

    with pytest.raises(LastAdminError, match="last admin"):
        remove_member(membership=admin, actor=SYSTEM)

    assert Membership.objects.filter(pk=admin.pk).exists()


def test_it_refuses_to_demote_the_last_admin():
    project = make_project()
    admin = membership_of(project, make_member(project, Role.ADMIN))

    with pytest.raises(LastAdminError):
        change_member_role(membership=admin, role=Role.APPROVER, actor=SYSTEM)

    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_an_admin_may_be_demoted_while_another_remains():
    project = make_project()
    first = membership_of(project, make_member(project, Role.ADMIN))
    make_member(project, Role.ADMIN)

    change_member_role(membership=first, role=Role.VIEWER, actor=SYSTEM)

    first.refresh_from_db()
    assert first.role == Role.VIEWER


@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_each_other_at_once_leave_one_admin():
    project = make_project()
    admins = [membership_of(project, make_member(project, Role.ADMIN)) for _ in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def remove(membership: Membership) -> None:
        try:
            start.wait()
            remove_member(membership=membership, actor=SYSTEM)
            outcomes.append("removed")
        except LastAdminError:
            outcomes.append("refused")
        except BaseException as error:  # a deadlock or anything else fails the test below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=remove, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "removed"]
    assert Membership.objects.filter(project=project, role=Role.ADMIN).count() == 1
