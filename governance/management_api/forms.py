from django import forms

from governance.projects.models import Project


class AccessTokenForm(forms.Form):
    name = forms.CharField(label="Token name", max_length=100, help_text="Say what uses it, e.g. “release pipeline”.")
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Limit it to these projects",
        help_text="None ticked: every project you are a member of, now and later.",
    )
    # One per form shown: the same form sent again makes no second token (governance.infra.sent_forms).
    form_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["projects"].queryset = projects.order_by("name")
