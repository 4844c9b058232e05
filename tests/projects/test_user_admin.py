"""Changes in the admin to who may do what each write one audited event, never a password."""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.projects.models import AUDITOR_GROUP
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    superuser = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(superuser)
    return client


def change_form(user, **changes) -> dict:
    """The admin's change form for `user` as the browser would post it, with `changes` applied."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [permission.pk for permission in user.user_permissions.all()],
        "date_joined_0": user.date_joined.date().isoformat(),
        "date_joined_1": user.date_joined.time().strftime("%H:%M:%S"),
        **changes,
    }
    return {field: value for field, value in data.items() if value is not False}


def events_after(sequence: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(sequence__gt=sequence))


def last_sequence() -> int:
    event = AuditEvent.objects.last()
    return event.sequence if event else 0


def test_adding_a_user_to_the_auditors_group_in_the_admin_is_audited(superuser_client):
    auditors = Group.objects.create(name=AUDITOR_GROUP)
    alice = make_user("alice")
    before = last_sequence()

    response = superuser_client.post(
        reverse("admin:auth_user_change", args=[alice.pk]), change_form(alice, groups=[auditors.pk])
    )

    assert response.status_code == 302
    [event] = events_after(before)
    assert (event.action, event.actor_label, event.object_id) == ("user.changed", "root", str(alice.pk))
    assert event.payload == {
        "user": "alice",
        "change": "changed",
        "changed": {"groups": {"from": [], "to": [AUDITOR_GROUP]}},
    }


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("is_superuser", True, {"from": False, "to": True}),
        ("is_staff", True, {"from": False, "to": True}),
        ("is_active", False, {"from": True, "to": False}),
    ],
)
def test_granting_superuser_or_staff_or_deactivating_in_the_admin_is_audited(superuser_client, field, value, expected):
    alice = make_user("alice")
    before = last_sequence()

    superuser_client.post(reverse("admin:auth_user_change", args=[alice.pk]), change_form(alice, **{field: value}))

    [event] = events_after(before)
    assert event.action == "user.changed"
    assert event.payload["changed"] == {field: expected}


def test_removing_from_the_auditors_group_and_granting_a_permission_are_one_event(superuser_client):
    auditors = Group.objects.create(name=AUDITOR_GROUP)
    alice = make_user("alice")
    alice.groups.add(auditors)
    permission = Permission.objects.get(codename="view_auditevent")
    before = last_sequence()

    superuser_client.post(
        reverse("admin:auth_user_change", args=[alice.pk]),
        change_form(alice, groups=[], user_permissions=[permission.pk]),
    )

    [event] = events_after(before)
    assert event.payload["changed"] == {
        "groups": {"from": [AUDITOR_GROUP], "to": []},
        "user_permissions": {"from": [], "to": ["audit.view_auditevent"]},
    }


def test_changing_only_a_users_name_in_the_admin_writes_no_event(superuser_client):
    alice = make_user("alice")
    before = last_sequence()

    response = superuser_client.post(
        reverse("admin:auth_user_change", args=[alice.pk]), change_form(alice, first_name="Alice")
    )

    assert response.status_code == 302
    assert events_after(before) == []


def test_creating_a_user_in_the_admin_is_audited_without_the_password(superuser_client):
    before = last_sequence()

    response = superuser_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "bob",
            "password1": "Correct-Horse-91",
            "password2": "Correct-Horse-91",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    [event] = events_after(before)
    assert event.action == "user.changed" and event.payload["user"] == "bob"
    assert event.payload["change"] == "created"
    assert event.payload["changed"]["is_superuser"] == {"from": None, "to": False}
    stored = json.dumps(event.payload)
    assert "Correct-Horse-91" not in stored and "pbkdf2" not in stored and "password" not in stored


def test_deleting_a_user_in_the_admin_is_audited_with_the_access_they_lose(superuser_client):
    auditors = Group.objects.create(name=AUDITOR_GROUP)
    alice = make_user("alice", is_staff=True)
    alice.groups.add(auditors)
    before = last_sequence()

    response = superuser_client.post(reverse("admin:auth_user_delete", args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 302
    [event] = events_after(before)
    assert (event.action, event.object_id, event.payload["change"]) == ("user.changed", str(alice.pk), "deleted")
    assert event.payload["changed"]["is_staff"] == {"from": True, "to": None}
    assert event.payload["changed"]["groups"] == {"from": [AUDITOR_GROUP], "to": None}


def test_deleting_users_from_the_admin_list_audits_each_of_them(superuser_client):
    alice, bob = make_user("alice"), make_user("bob")
    before = last_sequence()

    superuser_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"},
    )

    events = events_after(before)
    assert sorted((event.payload["user"], event.payload["change"]) for event in events) == [
        ("alice", "deleted"),
        ("bob", "deleted"),
    ]


def test_renaming_a_group_to_auditors_in_the_admin_is_audited_with_its_members(superuser_client):
    reviewers = Group.objects.create(name="reviewers")
    make_user("alice").groups.add(reviewers)
    before = last_sequence()

    response = superuser_client.post(
        reverse("admin:auth_group_change", args=[reviewers.pk]), {"name": AUDITOR_GROUP, "permissions": []}
    )

    assert response.status_code == 302
    [event] = events_after(before)
    assert event.action == "group.changed"
    assert event.payload == {
        "group": AUDITOR_GROUP,
        "change": "changed",
        "changed": {"name": {"from": "reviewers", "to": AUDITOR_GROUP}},
        "members": ["alice"],
    }


def test_deleting_the_auditors_group_in_the_admin_is_audited_with_its_members(superuser_client):
    auditors = Group.objects.create(name=AUDITOR_GROUP)
    make_user("alice").groups.add(auditors)
    before = last_sequence()

    superuser_client.post(reverse("admin:auth_group_delete", args=[auditors.pk]), {"post": "yes"})

    [event] = events_after(before)
    assert (event.action, event.payload["change"], event.payload["members"]) == ("group.changed", "deleted", ["alice"])
    assert not Group.objects.filter(name=AUDITOR_GROUP).exists()
