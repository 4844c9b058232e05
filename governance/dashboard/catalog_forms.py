from django import forms

from governance.catalog.models import Snapshot
from governance.dashboard.catalog_selectors import comparable_snapshots


class SnapshotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, snapshot: Snapshot) -> str:
        return f"{snapshot.name} ({snapshot.provider.name})"


class CompareForm(forms.Form):
    """Which two snapshots to compare, from the query string (?a=…&b=…); the first two until the user chooses."""

    a = SnapshotChoiceField(queryset=None, label="First snapshot", empty_label=None)
    b = SnapshotChoiceField(queryset=None, label="Second snapshot", empty_label=None)

    def __init__(self, query) -> None:
        snapshots = comparable_snapshots()
        first_two = [str(pk) for pk in snapshots.values_list("pk", flat=True)[:2]]
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
