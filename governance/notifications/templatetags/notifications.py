from django import template

from governance.notifications.selectors import unread_count

register = template.Library()


@register.simple_tag
def unread_notifications(user) -> int:
    """How many of the user's notifications are unread, for the header's inbox link."""
    return unread_count(user)
