from django import forms
from django.urls import reverse

from governance.dashboard.selectors import LogPageFilters
from governance.generations.models import Generation
from governance.generations.parsing import MAX_PROMPT_CHARS
from governance.projects.models import Environment, EnvironmentName


class GenerationFilterForm(forms.Form):
    """The log's filters, read from the query string; projects are limited to the ones the user may see."""

    project = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", empty_label="All projects")
    environment = forms.ChoiceField(choices=[("", "All environments"), *EnvironmentName.choices], required=False)
    snapshot = forms.ChoiceField(choices=[], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Generation.Status.choices], required=False)
    operation = forms.ChoiceField(choices=[("", "Any operation"), *Generation.OPERATION_CHOICES], required=False)
    created_from = forms.DateField(required=False, label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, label="To (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        required=False,
        max_length=200,
        strip=True,
        label="Prompt contains",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "words in the prompt"}),
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, projects, snapshots: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects.order_by("name")
        self.fields["snapshot"].choices = [("", "Any snapshot"), *((name, name) for name in snapshots)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> LogPageFilters | None:
        """The filters to apply, or None when the query string asks for something invalid or not visible."""
        if not self.is_valid():
            return None
        data = dict(self.cleaned_data)
        return LogPageFilters(text=data.pop("q"), **data)


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, environment: Environment) -> str:
        return f"{environment.project.name} / {environment.get_name_display()}"


class PlaygroundForm(forms.Form):
    """A create request as a developer would send it to /v1/videos; empty choices leave the policy's defaults."""

    environment = EnvironmentChoiceField(queryset=None, label="Project / environment", empty_label=None)
    model = forms.ChoiceField(choices=[], required=False)
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=MAX_PROMPT_CHARS)
    seconds = forms.ChoiceField(choices=[], required=False)
    size = forms.ChoiceField(choices=[], required=False)

    def __init__(self, *args, environments, offered, accepted=None, **kwargs):
        """`offered` is every choice; `accepted`, if given, what the chosen environment's policy takes.

        With `accepted`, each list is split in two groups: what the policy accepts, and what it
        refuses (still offered, so a developer can see the refusal their application would get).
        """
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = environments.select_related("project").order_by("project__name", "name")
        self.fields["environment"].widget.attrs.update(  # the groups follow the environment's policy
            {"hx-get": reverse("dashboard:playground"), "hx-target": "#playground-choices", "hx-swap": "outerHTML"}
        )
        for field, attribute, default in (
            ("model", "models", "The environment's default"),
            ("seconds", "seconds", "The model's default"),
            ("size", "sizes", "The model's default"),
        ):
            self.fields[field].choices = [("", default), *_grouped(offered, accepted, attribute)]

    def request_fields(self) -> dict:
        """The fields of the equivalent Videos API request body."""
        data = self.cleaned_data
        fields = {"prompt": data["prompt"]}
        fields.update({name: data[name] for name in ("model", "seconds", "size") if data[name]})
        return fields


def _grouped(offered, accepted, attribute: str) -> list:
    values = [(str(value), value) for value in getattr(offered, attribute)]
    if accepted is None:
        return values
    taken = {str(value) for value in getattr(accepted, attribute)}
    return [
        ("Accepted by this environment's policy", [choice for choice in values if choice[0] in taken]),
        ("Refused by its policy: try one to see why", [choice for choice in values if choice[0] not in taken]),
    ]
