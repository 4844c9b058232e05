from governance.notifications.models import Notification

INBOX_PAGE_SIZE = 50
UNREAD_SHOWN_UP_TO = 99


def unread_count(user) -> int:
    """Unread notifications, counted up to 100 (the header shows "99+"): a bounded read, not a COUNT."""
    if not user.is_authenticated:
        return 0
    unread = Notification.objects.for_user(user).unread().values_list("pk", flat=True)
    return len(unread[: UNREAD_SHOWN_UP_TO + 1])


def inbox(user, *, unread_only: bool = False) -> list[Notification]:
    notifications = Notification.objects.for_user(user).select_related("project")
    if unread_only:
        notifications = notifications.unread()
    return list(notifications[:INBOX_PAGE_SIZE])
