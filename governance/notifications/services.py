"""Telling people in the app: write notifications, mark them read.

Other apps call `notify()`; they decide who needs to know, this module only
delivers. Delivery is best kept inside the caller's transaction, so a rolled-back
change notifies nobody.
"""

from collections.abc import Iterable

from django.utils import timezone

from governance.notifications.models import Notification


def notify(
    recipients: Iterable, *, kind: str, title: str, body: str = "", url: str = "", project=None
) -> list[Notification]:
    """Put one notification in each recipient's inbox (each user once, however often named)."""
    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    return Notification.objects.bulk_create(
        Notification(recipient=user, project=project, kind=kind, title=title[:200], body=body, url=url)
        for user in unique.values()
    )


def mark_read(user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read: the given ones, or all of them. Returns how many changed."""
    unread = Notification.objects.for_user(user).unread()
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())
