import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.dashboard import login_throttling
from governance.dashboard.selectors import LogFilters
from governance.generations.models import Generation
from governance.projects.models import EnvironmentName


class GenerationFilterForm(forms.Form):
    """The log's filters, read from the query string; projects are limited to the ones the user may see."""

    project = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", empty_label="All projects")
    environment = forms.ChoiceField(choices=[("", "All environments"), *EnvironmentName.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Generation.Status.choices], required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects.order_by("name")

    def filters(self) -> LogFilters | None:
        """The filters to apply, or None when the query string asks for something invalid or not visible."""
        if not self.is_valid():
            return None
        return LogFilters(**self.cleaned_data)


class ThrottledLogin:
    """Refuse a locked-out username or address before checking the password, and count failures."""

    locked_message = "Too many failed sign-ins. Sign-in is locked; try again in %(minutes)d minutes."

    def clean(self):
        username = str(self.cleaned_data.get("username") or "")
        ip = self.request.META.get("REMOTE_ADDR", "") if self.request is not None else ""
        if until := login_throttling.locked_until(username=username, ip=ip):
            raise self._locked(until)
        try:
            cleaned = super().clean()
        except ValidationError:
            if until := login_throttling.note_failed_login(username=username, ip=ip):
                raise self._locked(until) from None
            raise
        login_throttling.note_successful_login(username=username, ip=ip)
        return cleaned

    def _locked(self, until) -> ValidationError:
        minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
        return ValidationError(self.locked_message, code="locked", params={"minutes": minutes})


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass
