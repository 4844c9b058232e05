"""The Policy editor's form. It parses input and offers the provider's catalog; the rules live in the services."""

import datetime as dt

from django import forms

from governance.catalog.connections import connection_for
from governance.catalog.models import Lifecycle, Provider
from governance.catalog.selectors import CatalogRows
from governance.policies import engine
from governance.policies.models import PolicyRevision

UNKNOWN_SNAPSHOT = "'%(value)s' is not a snapshot in this provider's catalog."


OPERATION_CHOICES = [
    (operation, f"{operation} ({engine.OPERATION_WORDS[operation]})") for operation in engine.OPERATIONS
]


class PolicyForm(forms.Form):
    """One policy revision's values, offered from the provider's catalog; a reason is required."""

    default_model = forms.ChoiceField(
        label="Pinned snapshot or followed alias",
        help_text="Requests that name no model run on this. An alias follows its moves; a snapshot stays put.",
    )
    allowed_snapshots = forms.MultipleChoiceField(
        label="Allowed snapshots",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": UNKNOWN_SNAPSHOT},
        help_text="Requests may name these snapshots. The pinned snapshot must be one of them.",
    )
    alias_requests = forms.ChoiceField(
        label="Requests for an alias (such as sora-2)",
        choices=PolicyRevision.AliasRequests.choices,
        widget=forms.RadioSelect,
    )
    canary_snapshot = forms.ChoiceField(
        label="Canary snapshot",
        required=False,
        error_messages={"invalid_choice": UNKNOWN_SNAPSHOT},
        help_text=(
            "A share of requests for the pinned snapshot run on this one instead; it may be another provider's "
            "(a canary across providers), sticky per X-Governance-Subject."
        ),
    )
    canary_percent = forms.IntegerField(
        label="Canary share of requests (%)",
        required=False,
        min_value=0,
        max_value=100,
        error_messages={
            "min_value": "The canary share is between 0 and 100%%.",
            "max_value": "The canary share is between 0 and 100%%.",
        },
    )
    max_seconds = forms.IntegerField(
        label="Longest video (seconds)", required=False, min_value=1, help_text="Empty: what the snapshot allows."
    )
    allowed_sizes = forms.MultipleChoiceField(
        label="Allowed sizes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any size the snapshot supports.",
    )
    allowed_features = forms.MultipleChoiceField(
        label="Allowed features",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any feature the snapshot supports.",
    )
    allowed_operations = forms.MultipleChoiceField(
        label="Allowed operations",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=OPERATION_CHOICES,
        help_text="None ticked: every operation the snapshot supports (remix, edits, extensions, characters).",
    )
    monthly_budget = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Empty: no budget. Requests that would exceed it are refused.",
    )
    reason = forms.CharField(
        label="Why does the policy change?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required. Kept with the revision and in the audit trail.",
        error_messages={"required": "Say why the policy changes; the reason is kept with the revision."},
    )

    def __init__(
        self,
        *args,
        catalog: CatalogRows,
        now: dt.datetime,
        other_catalogs: dict[Provider, CatalogRows] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.catalog, self.now = catalog, now
        self.other_catalogs = other_catalogs or {}
        snapshots = list(catalog.snapshots.values())
        snapshot_choices = [(snapshot.name, self._snapshot_label(snapshot)) for snapshot in snapshots]
        alias_choices = [(alias, f"{alias} (alias, now {target})") for alias, target in sorted(catalog.aliases.items())]
        self.fields["default_model"].choices = [("Snapshots", snapshot_choices), ("Aliases", alias_choices)]
        self.fields["default_model"].error_messages["invalid_choice"] = (
            "'%(value)s' is neither a snapshot nor an alias in this provider's catalog."
        )
        self.fields["allowed_snapshots"].choices = snapshot_choices
        self.fields["canary_snapshot"].choices = [("", "No canary"), *snapshot_choices, *self._other_canaries()]
        self.fields["allowed_sizes"].choices = _union(snapshot.sizes for snapshot in snapshots)
        # Operation features (remix, edits, …) are governed by "Allowed operations", not listed twice;
        # constraints of the snapshot (`engine.CONSTRAINTS`) are not features to allow.
        operation_features = {*engine.OPERATION_FEATURES.values(), *engine.CONSTRAINTS}
        self.fields["allowed_features"].choices = [
            (feature, feature.replace("_", " "))
            for feature, _ in _union(snapshot.features for snapshot in snapshots)
            if feature not in operation_features
        ]

    def _other_canaries(self) -> list[tuple[str, list]]:
        """Other providers' live snapshots, as `provider:snapshot`, grouped by provider."""
        groups = []
        for provider, catalog in sorted(self.other_catalogs.items(), key=lambda item: item[0].name):
            live = [
                snapshot
                for snapshot in catalog.snapshots.values()
                if snapshot.lifecycle(self.now) != Lifecycle.SHUT_DOWN
            ]
            if live:
                choices = [(f"{provider.slug}:{snapshot.name}", self._snapshot_label(snapshot)) for snapshot in live]
                label = f"At {provider.name}"
                if not connection_for(provider).usable:
                    label += " (not configured here: its canary would take no request)"
                groups.append((label, choices))
        return groups

    def _canary(self) -> tuple[str, int | None]:
        """The chosen canary as (snapshot, its provider when another provider's)."""
        value = self.cleaned_data.get("canary_snapshot") or ""
        slug, _, name = value.rpartition(":")
        for provider in self.other_catalogs:
            if slug and provider.slug == slug:
                return name, provider.pk
        return value, None

    @classmethod
    def initial_from(cls, revision: PolicyRevision | None, *, same_provider: bool = True) -> dict:
        """The current revision's values; moving to another provider starts its snapshots afresh."""
        if revision is None:
            return {"alias_requests": PolicyRevision.AliasRequests.REFUSE, "canary_percent": 0}
        if not same_provider:
            return {
                "alias_requests": revision.alias_requests,
                "canary_percent": 0,
                "max_seconds": revision.max_seconds,
                "monthly_budget": revision.monthly_budget,
                "allowed_operations": revision.allowed_operations or [],
            }
        return {
            "default_model": revision.default_model,
            "allowed_snapshots": revision.allowed_snapshots,
            "alias_requests": revision.alias_requests,
            "canary_snapshot": (
                f"{revision.canary_provider.slug}:{revision.canary_snapshot}"
                if revision.canary_provider_id
                else revision.canary_snapshot
            ),
            "canary_percent": revision.canary_percent,
            "max_seconds": revision.max_seconds,
            "allowed_sizes": revision.allowed_sizes or [],
            "allowed_features": revision.allowed_features or [],
            "monthly_budget": revision.monthly_budget,
            "allowed_operations": revision.allowed_operations or [],
        }

    def _snapshot_label(self, snapshot) -> str:
        lifecycle = snapshot.lifecycle(self.now)
        return snapshot.name if lifecycle == Lifecycle.ACTIVE else f"{snapshot.name} ({lifecycle.label.lower()})"

    def clean(self):
        """Shut-down snapshots never run, so a new revision may not name them."""
        cleaned = super().clean()
        named = {
            "default_model": [self.catalog.resolve(cleaned.get("default_model") or "")],
            "allowed_snapshots": cleaned.get("allowed_snapshots") or [],
            "canary_snapshot": [cleaned.get("canary_snapshot")],
        }
        for field, names in named.items():
            shut = [self.catalog.snapshots[name] for name in names if name in self.catalog.snapshots]
            shut = [snapshot for snapshot in shut if snapshot.lifecycle(self.now) == Lifecycle.SHUT_DOWN]
            if shut:
                self.add_error(field, "; ".join(_shut_down_words(snapshot) for snapshot in shut) + ".")
        return cleaned

    def policy_values(self) -> dict:
        values = dict(self.cleaned_data)
        values.pop("reason")
        values["canary_snapshot"], values["canary_provider_id"] = self._canary()
        values["canary_percent"] = values["canary_percent"] or 0
        values["allowed_sizes"] = values["allowed_sizes"] or None
        values["allowed_features"] = values["allowed_features"] or None
        values["allowed_operations"] = values["allowed_operations"] or None
        return values


def _shut_down_words(snapshot) -> str:
    words = f"{snapshot.name} was shut down on {snapshot.shutdown_on:%Y-%m-%d}"
    if snapshot.replacement_id:
        words += f"; its replacement is {snapshot.replacement.name}"
    return words


def _union(lists) -> list[tuple[str, str]]:
    seen = dict.fromkeys(value for values in lists for value in values)
    return [(value, value) for value in seen]
