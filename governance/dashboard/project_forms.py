"""Forms of the Project page: API keys and members. They parse input; the rules live in the services."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from governance.projects.models import Role


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name", max_length=100, help_text="Say who or what uses it, e.g. “checkout service”."
    )
    # One per form shown: the same form sent again makes no second key (governance.infra.sent_forms).
    form_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class AddMemberForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise ValidationError(f"There is no active user named '{username}'.")
        if user.memberships.filter(project=self.project).exists():
            raise ValidationError(f"{username} is already a member; change their role in the list instead.")
        return user


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
