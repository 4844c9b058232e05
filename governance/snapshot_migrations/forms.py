import datetime as dt

from django import forms

from governance.catalog.models import Provider
from governance.projects.models import Role
from governance.snapshot_migrations.models import DEFAULT_STAGES, SignOff, StepKind


class PlanForm(forms.Form):
    """What a plan proposes: where to, why, and how to roll out."""

    environment = forms.ChoiceField(label="Environment")
    to_snapshot = forms.ChoiceField(label="Move to snapshot")
    reason = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 3}))
    stages = forms.CharField(
        label="Rollout stages (% of requests)",
        initial=", ".join(str(s) for s in DEFAULT_STAGES),
        help_text="Rising percentages ending at 100, for example 10, 50, 100.",
    )
    window_hours = forms.DecimalField(
        label="Observation window per stage (hours)", initial=24, min_value=0, max_value=24 * 30, decimal_places=2
    )
    auto_rollback = forms.BooleanField(
        label="Roll back by itself when a health gate fails", required=False, initial=True
    )

    def __init__(self, *args, environments: list[str], snapshots: list[tuple[str, str]], **kwargs):
        """`snapshots` are (value, label) pairs: a bare name at the environment's own provider, or
        `<provider slug>:<name>` at another provider (see `target`)."""
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = [(name, name) for name in environments]
        self.fields["to_snapshot"].choices = snapshots

    def target(self) -> tuple[Provider | None, str]:
        """The chosen snapshot's provider (None: the environment's own) and name."""
        slug, _, name = self.cleaned_data["to_snapshot"].rpartition(":")
        return (Provider.objects.get(slug=slug) if slug else None), name

    def clean_stages(self) -> list[int]:
        try:
            return [int(part) for part in self.cleaned_data["stages"].replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Whole percentages separated by commas, for example 10, 50, 100.") from None

    def observation_window(self) -> dt.timedelta:
        return dt.timedelta(hours=float(self.cleaned_data["window_hours"]))


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(choices=SignOff.Decision.choices, widget=forms.RadioSelect, label="Decision")
    comment = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 2}))


class EvidenceForm(forms.Form):
    evidence = forms.CharField(label="Evidence", widget=forms.Textarea(attrs={"rows": 3}), required=False)
    links = forms.CharField(label="Links (one per line)", widget=forms.Textarea(attrs={"rows": 2}), required=False)


class RolloutForm(forms.Form):
    reason = forms.CharField(label="Reason", required=False, max_length=500)


class TemplateStepForm(forms.Form):
    title = forms.CharField(label="Step", max_length=120)
    kind = forms.ChoiceField(label="Kind", choices=StepKind.choices)
    description = forms.CharField(label="What to check", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    required_role = forms.ChoiceField(label="Required role", choices=[(r, r) for r in (Role.APPROVER, Role.ADMIN)])
    minimum_sign_offs = forms.IntegerField(label="Sign-offs needed", min_value=1, max_value=10, initial=1)
    approvers = forms.MultipleChoiceField(
        label="Named approvers (none: anyone with the role)", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, members: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {str(user.pk): user for user in members}
        self.fields["approvers"].choices = [(pk, user.get_username()) for pk, user in self.members.items()]

    def values(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("title", "kind", "description", "required_role", "minimum_sign_offs")}

    def chosen_approvers(self) -> list:
        return [self.members[pk] for pk in self.cleaned_data["approvers"]]


class PromptSetForm(forms.Form):
    prompts = forms.CharField(label="Prompts (one per line)", required=False, widget=forms.Textarea(attrs={"rows": 6}))
