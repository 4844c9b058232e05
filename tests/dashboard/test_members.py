import pytest
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.projects.models import Membership, Role
from tests.dashboard.project_fixtures import Shop, make_shop
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def membership(shop: Shop, role) -> Membership:
    return Membership.objects.get(project=shop.project, user=shop.users[role])


def test_an_admin_adds_a_user_by_username(client, shop):
    newcomer = make_user("newcomer")
    client.force_login(shop.users[Role.ADMIN])

    response = client.post(
        reverse("dashboard:member_add", args=["shop"]), {"username": "newcomer", "role": "developer"}
    )

    assert response.status_code == 302
    assert Membership.objects.get(project=shop.project, user=newcomer).role == Role.DEVELOPER
    assert AuditEvent.objects.filter(action="member.changed", payload__user="newcomer").exists()


def test_adding_an_unknown_user_says_so(client, shop):
    client.force_login(shop.users[Role.ADMIN])

    response = client.post(reverse("dashboard:member_add", args=["shop"]), {"username": "ghost", "role": "viewer"})

    assert response.status_code == 400
    assert "There is no active user named &#x27;ghost&#x27;." in response.content.decode()


def test_adding_an_existing_member_says_so(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    username = shop.users[Role.VIEWER].username

    response = client.post(reverse("dashboard:member_add", args=["shop"]), {"username": username, "role": "admin"})

    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert membership(shop, Role.VIEWER).role == Role.VIEWER


def test_an_admin_changes_a_role(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    viewer = membership(shop, Role.VIEWER)

    client.post(reverse("dashboard:member_change", args=["shop", viewer.pk]), {"role": "approver"})

    viewer.refresh_from_db()
    assert viewer.role == Role.APPROVER


def test_an_admin_removes_a_member_with_an_audit_event(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    viewer = membership(shop, Role.VIEWER)

    response = client.post(reverse("dashboard:member_remove", args=["shop", viewer.pk]))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    event = AuditEvent.objects.get(action="member.removed")
    assert event.payload == {"user": shop.users[Role.VIEWER].username, "from": "viewer", "to": None}
    assert event.actor_label == shop.users[Role.ADMIN].username


def test_the_last_admin_cannot_be_removed(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    admin = membership(shop, Role.ADMIN)

    response = client.post(reverse("dashboard:member_remove", args=["shop", admin.pk]))

    assert response.status_code == 409
    assert "is the last admin of shop" in response.content.decode()
    assert Membership.objects.filter(pk=admin.pk).exists()
    assert not AuditEvent.objects.filter(action="member.removed").exists()


def test_the_last_admin_cannot_be_demoted(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    admin = membership(shop, Role.ADMIN)

    response = client.post(reverse("dashboard:member_change", args=["shop", admin.pk]), {"role": "viewer"})

    assert response.status_code == 409
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_an_admin_may_leave_when_another_admin_remains(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    approver = membership(shop, Role.APPROVER)
    client.post(reverse("dashboard:member_change", args=["shop", approver.pk]), {"role": "admin"})

    response = client.post(reverse("dashboard:member_remove", args=["shop", membership(shop, Role.ADMIN).pk]))

    assert response.status_code == 302
    assert not Membership.objects.filter(project=shop.project, user=shop.users[Role.ADMIN]).exists()


def test_an_unknown_role_is_refused(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    viewer = membership(shop, Role.VIEWER)

    response = client.post(reverse("dashboard:member_change", args=["shop", viewer.pk]), {"role": "owner"})

    assert response.status_code == 400
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER])
def test_members_below_admin_cannot_change_members(client, shop, role):
    make_user("newcomer")
    client.force_login(shop.users[role])
    target = membership(shop, Role.ADMIN)

    added = client.post(reverse("dashboard:member_add", args=["shop"]), {"username": "newcomer", "role": "admin"})
    changed = client.post(reverse("dashboard:member_change", args=["shop", target.pk]), {"role": "viewer"})
    removed = client.post(reverse("dashboard:member_remove", args=["shop", target.pk]))

    assert (added.status_code, changed.status_code, removed.status_code) == (403, 403, 403)
    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assert not Membership.objects.filter(user__username="newcomer").exists()


def test_viewers_see_members_and_roles_without_controls(client, shop):
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()

    assert shop.users[Role.ADMIN].username in page
    assert "Add a member" not in page and "Remove" not in page
