from django import template
from django.conf import settings
from django.urls import reverse

from governance.sso.provider import sso_enabled

register = template.Library()


@register.simple_tag
def sso_sign_in() -> dict:
    """The sign-in page's "Sign in with <provider>" link, or nothing while single sign-on is off."""
    if not sso_enabled():
        return {}
    return {"name": settings.OIDC_PROVIDER_NAME, "url": reverse("sso:start")}
