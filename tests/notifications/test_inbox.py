import pytest
from django.urls import reverse

from governance.notifications.models import Notification
from governance.notifications.services import mark_read, notify
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


def test_notify_reaches_each_recipient_once_and_skips_inactive_users():
    project = make_project()
    alice, bob, gone = make_user(), make_user(), make_user(is_active=False)

    notify([alice, bob, alice, gone], kind="migration.review_requested", title="Plan needs you", project=project)

    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == sorted(
        [alice.username, bob.username]
    )


def test_the_header_counts_unread_notifications_and_the_inbox_lists_them(client):
    user = make_user()
    notify([user], kind="lifecycle.shutdown_alert", title="sora-2-2025-10-06 shuts down in 30 days", url="/catalog/")
    client.force_login(user)

    page = client.get(reverse("dashboard:overview")).content.decode()
    assert 'aria-label="1 unread"' in page

    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert "sora-2-2025-10-06 shuts down in 30 days" in inbox
    assert 'href="/catalog/"' in inbox


def test_marking_one_read_leaves_the_others_unread(client):
    user = make_user()
    first, second = (notify([user], kind="k", title=title)[0] for title in ["first", "second"])
    client.force_login(user)

    response = client.post(
        reverse("notifications:mark_read"), {"notification": first.pk}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert "Mark all read" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_marking_read_in_the_page_updates_the_headers_unread_count(client):
    user = make_user()
    first, _ = (notify([user], kind="k", title=title)[0] for title in ["first", "second"])
    client.force_login(user)
    assert 'aria-label="2 unread"' in client.get(reverse("notifications:inbox")).content.decode()

    response = client.post(
        reverse("notifications:mark_read"), {"notification": first.pk}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    # The page stays the inbox, so its link stays marked as the current page.
    assert (
        'id="inbox-link" href="/inbox/" aria-current="page" hx-swap-oob="true">Inbox <span class="count-badge"' in body
    )
    assert 'aria-label="1 unread"' in body


def test_nobody_marks_or_reads_another_users_notifications(client):
    owner, intruder = make_user(), make_user()
    notification = notify([owner], kind="k", title="private to the owner")[0]
    client.force_login(intruder)

    client.post(reverse("notifications:mark_read"), {"notification": notification.pk})
    client.post(reverse("notifications:mark_read"))

    notification.refresh_from_db()
    assert notification.read_at is None
    assert "private to the owner" not in client.get(reverse("notifications:inbox")).content.decode()


def test_mark_all_read_empties_the_unread_view():
    user = make_user()
    notify([user], kind="k", title="one")
    notify([user], kind="k", title="two")

    assert mark_read(user) == 2
    assert not Notification.objects.for_user(user).unread().exists()


def test_the_inbox_needs_a_sign_in(client):
    response = client.get(reverse("notifications:inbox"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("garbled", ["²", "abc", "-1"])
def test_a_garbled_notification_id_marks_nothing_read(client, garbled):
    user = make_user()
    notify([user], kind="k", title="still unread")
    client.force_login(user)

    response = client.post(reverse("notifications:mark_read"), {"notification": garbled})

    assert response.status_code == 400
    assert Notification.objects.get(recipient=user).read_at is None
