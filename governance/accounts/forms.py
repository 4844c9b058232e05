"""The sign-in forms, the dashboard's and the admin's, both throttled."""

import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.accounts import login_throttling
from governance.infra.client_address import client_address


class ThrottledLogin:
    """Refuse a locked-out username or address before checking the password.

    Failures are counted where Django reports them (`accounts.signals`); a failure that
    started a lockout says so at once.
    """

    locked_message = "Too many failed sign-ins. Sign-in is locked; try again in %(minutes)d minutes."

    def clean(self):
        username = str(self.cleaned_data.get("username") or "")
        ip = client_address(self.request)
        if until := login_throttling.locked_until(username=username, ip=ip):
            raise self._locked(until)
        try:
            cleaned = super().clean()
        except ValidationError:
            if until := login_throttling.locked_until(username=username, ip=ip):
                raise self._locked(until) from None
            raise
        if self.get_user() is not None:  # not a form missing its password, which checked nothing
            login_throttling.note_successful_login(username=username)
        return cleaned

    def _locked(self, until) -> ValidationError:
        minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
        return ValidationError(self.locked_message, code="locked", params={"minutes": minutes})


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    def get_invalid_login_error(self) -> ValidationError:
        if settings.LOCAL_LOGIN:
            return super().get_invalid_login_error()
        return ValidationError(
            "Please enter the correct username and password of a superuser: password sign-in is turned off "
            "here (LOCAL_LOGIN=0) for everyone else, who signs in with single sign-on.",
            code="invalid_login",
        )
