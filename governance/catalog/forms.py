from django import forms
from django.core.exceptions import ValidationError

from governance.catalog.catalog_page import comparable_snapshots
from governance.catalog.models import Snapshot


class SnapshotChoiceField(forms.ModelChoiceField):
    """A snapshot named by its key, `provider:snapshot`, so a comparison's URL says what it compares."""

    def label_from_instance(self, snapshot: Snapshot) -> str:
        return f"{snapshot.name} ({snapshot.provider.name})"

    def prepare_value(self, value):
        if isinstance(value, Snapshot):
            return value.key
        return super().prepare_value(value)

    def to_python(self, value) -> Snapshot | None:
        if value in self.empty_values:
            return None
        provider, separator, name = str(value).partition(":")
        if not separator:
            return super().to_python(value)  # a link from before keys, by database id
        snapshot = self.queryset.filter(provider__slug=provider, name=name).first()
        if snapshot is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return snapshot


class CompareForm(forms.Form):
    """Which two snapshots to compare, from the query string (?a=…&b=…); the first two until the user chooses."""

    a = SnapshotChoiceField(queryset=None, label="First snapshot", empty_label=None)
    b = SnapshotChoiceField(queryset=None, label="Second snapshot", empty_label=None)

    def __init__(self, query) -> None:
        snapshots = comparable_snapshots()
        first_two = [snapshot.key for snapshot in snapshots[:2]]
        data = None
        if first_two:
            data = {"a": first_two[0], "b": first_two[-1]}
            data.update({name: query[name] for name in ("a", "b") if name in query})
        super().__init__(data)
        for name in ("a", "b"):
            self.fields[name].queryset = snapshots

    def snapshots(self) -> tuple[Snapshot, Snapshot] | None:
        if not self.is_bound or not self.is_valid():
            return None
        return self.cleaned_data["a"], self.cleaned_data["b"]
