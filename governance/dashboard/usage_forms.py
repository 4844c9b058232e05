from django import forms

from governance.catalog.models import Snapshot
from governance.dashboard.usage_selectors import DEFAULT_PERIOD, PERIODS, UsageFilters
from governance.projects.models import EnvironmentName


class UsageFilterForm(forms.Form):
    """The usage page's filters from the query string; projects are limited to the ones the user may see."""

    project = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", empty_label="All projects")
    environment = forms.ChoiceField(choices=[("", "All environments"), *EnvironmentName.choices], required=False)
    snapshot = forms.ChoiceField(required=False)
    period = forms.ChoiceField(choices=[(key, period.label) for key, period in PERIODS.items()], required=False)

    def __init__(self, *args, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects.order_by("name")
        names = Snapshot.objects.order_by("name").values_list("name", flat=True).distinct()
        self.fields["snapshot"].choices = [("", "All snapshots"), *((name, name) for name in names)]

    def filters(self) -> UsageFilters | None:
        """The filters to apply, or None when the query string asks for something invalid or not visible."""
        if not self.is_valid():
            return None
        return UsageFilters(**{**self.cleaned_data, "period": self.cleaned_data["period"] or DEFAULT_PERIOD})
