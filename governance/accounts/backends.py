"""Passwords, as Django's ModelBackend checks them, unless LOCAL_LOGIN=0 has turned them off."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class PasswordBackend(ModelBackend):
    """Django's password check; with LOCAL_LOGIN=0, only for superusers (break-glass accounts).

    One place for the rule, so every form that asks for a password (the sign-in page, the admin's)
    obeys it, a refusal is a failed sign-in that throttling counts, and a password session of
    anyone else ends at its next request once passwords are turned off.
    """

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return settings.LOCAL_LOGIN or user.is_superuser
