from django.contrib import admin
from django.db import transaction

from governance.audit.admin import ReadOnlyAdmin
from governance.audit.services import Actor, record_event
from governance.snapshot_migrations.models import ChecklistTemplateStep, ComparisonPrompt, MigrationPlan


class AuditedAdmin(admin.ModelAdmin):
    """Project settings edited in the admin: each save and delete writes its audit event in the same transaction."""

    audit_action = ""

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            self._audit(request, obj, "changed" if change else "added")

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            self._audit(request, obj, "deleted")
            super().delete_model(request, obj)

    def _audit(self, request, obj, what: str) -> None:
        record_event(
            action=f"{self.audit_action}.{what}",
            actor=Actor.for_user(request.user),
            target=obj,
            project=obj.project,
            payload={"item": str(obj)},
        )


@admin.register(ChecklistTemplateStep)
class ChecklistTemplateStepAdmin(AuditedAdmin):
    """A project's checklist template: new plans copy its steps (existing plans keep theirs)."""

    audit_action = "migration.template_step"
    list_display = ["project", "position", "title", "required_role", "minimum_sign_offs"]
    list_filter = ["project"]
    filter_horizontal = ["approvers"]


@admin.register(ComparisonPrompt)
class ComparisonPromptAdmin(AuditedAdmin):
    audit_action = "migration.comparison_prompt"
    list_display = ["project", "prompt", "seconds", "size"]
    list_filter = ["project"]


@admin.register(MigrationPlan)
class MigrationPlanAdmin(ReadOnlyAdmin):
    list_display = ["pk", "project", "environment", "from_snapshot", "to_snapshot", "state", "created_at"]
    list_filter = ["state", "project"]
