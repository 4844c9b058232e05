"""The Audit page's export forms; every filter is read and checked by governance.exports.exports."""

from django import forms
from django.db.models import QuerySet

from governance.catalog.models import Snapshot
from governance.exports import exports
from governance.generations.models import Generation
from governance.projects.models import EnvironmentName, Project


class DateInput(forms.DateInput):
    input_type = "date"


class ExportForm(forms.Form):
    """Filters for one kind of export. `projects` is a project admin's own projects (None: every project)."""

    kind = ""
    filter_names: tuple[str, ...] = ()

    format = forms.ChoiceField(choices=[(exports.CSV, "CSV"), (exports.JSONL, "JSON Lines")], initial=exports.CSV)
    project = forms.ChoiceField(required=False)
    environment = forms.ChoiceField(choices=[("", "All environments"), *EnvironmentName.choices], required=False)
    since = forms.CharField(required=False, label="From (UTC)", widget=DateInput)
    until = forms.CharField(required=False, label="To, inclusive (UTC)", widget=DateInput)

    def __init__(self, *args, projects: QuerySet[Project] | None, **kwargs) -> None:
        super().__init__(*args, prefix=self.kind, **kwargs)
        self.within_projects = projects
        choices = (projects if projects is not None else Project.objects.all()).order_by("name")
        everything = "All projects" if projects is None else "All your projects"
        self.fields["project"].choices = [("", everything), *((project.slug, project.name) for project in choices)]
        self.filters: exports.ExportFilters | None = None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        names = ("project", "environment", "since", "until", *self.filter_names)
        try:
            self.filters = exports.parse_filters(
                self.kind, **{name: data.get(name) or "" for name in names}, within_projects=self.within_projects
            )
        except exports.ExportError as error:
            raise forms.ValidationError(str(error)) from None
        return data


class GenerationExportForm(ExportForm):
    kind = exports.GENERATIONS
    filter_names = ("snapshot", "status")

    snapshot = forms.ChoiceField(required=False, label="Resolved snapshot")
    status = forms.ChoiceField(choices=[("", "Any status"), *Generation.Status.choices], required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = Snapshot.objects.order_by("name").values_list("name", flat=True).distinct()
        self.fields["snapshot"].choices = [("", "Any snapshot"), *((name, name) for name in names)]


class AuditExportForm(ExportForm):
    kind = exports.AUDIT
    filter_names = ("action",)

    action = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. policy.revised", "spellcheck": "false"})
    )


class EventFilterForm(AuditExportForm):
    """The event browser's filters: the audit export's, read from the query string, with no file format."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = None
        del self.fields["format"]


EXPORT_FORMS: dict[str, type[ExportForm]] = {exports.GENERATIONS: GenerationExportForm, exports.AUDIT: AuditExportForm}
