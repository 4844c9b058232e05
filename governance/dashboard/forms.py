from django import forms

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
