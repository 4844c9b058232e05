from django import template
from django.conf import settings

from governance.demo.users import DEMO_PASSWORD, DEMO_USERS

register = template.Library()


@register.simple_tag
def demo_logins() -> dict:
    """The seeded demo logins, offered only while DEBUG is on so production never advertises them."""
    if not settings.DEBUG:
        return {}
    return {"usernames": list(DEMO_USERS), "password": DEMO_PASSWORD}
