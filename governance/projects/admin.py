from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction

from governance.audit.admin import ReadOnlyAdmin
from governance.audit.services import Actor
from governance.projects.models import ApiKey, Environment, Membership, Project
from governance.projects.services import account_state, group_state, record_group_change, record_user_change

User = get_user_model()


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "created_at"]


@admin.register(Environment)
class EnvironmentAdmin(ReadOnlyAdmin):
    list_display = ["project", "name", "protected", "rate_limit_per_minute"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["project", "user", "role"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix", "environment", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]


class AuditedChanges:
    """Admin changes to who may do what are audited in the admin view's own transaction.

    The state before is read in save_model, before the row is saved; the state after in
    save_related, once groups and permissions (many-to-many) are saved too. Subclasses
    say what the state is (`audit_state(obj) -> dict`) and how a change is recorded
    (`record_change(obj, *, before, after, actor)`).
    """

    def save_model(self, request, obj, form, change) -> None:
        obj._audit_state_before = self.audit_state(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        self.record_change(
            obj, before=obj._audit_state_before, after=self.audit_state(obj), actor=Actor.for_user(request.user)
        )

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            self.record_change(obj, before=self.audit_state(obj), after=None, actor=Actor.for_user(request.user))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.record_change(obj, before=self.audit_state(obj), after=None, actor=Actor.for_user(request.user))
            super().delete_queryset(request, queryset)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedChanges, UserAdmin):
    def audit_state(self, obj) -> dict:
        return account_state(obj)

    def record_change(self, obj, *, before: dict | None, after: dict | None, actor: Actor) -> None:
        record_user_change(user=obj, before=before, after=after, actor=actor)


@admin.register(Group)
class AuditedGroupAdmin(AuditedChanges, GroupAdmin):
    def audit_state(self, obj) -> dict:
        return group_state(obj)

    def record_change(self, obj, *, before: dict | None, after: dict | None, actor: Actor) -> None:
        record_group_change(group=obj, before=before, after=after, actor=actor)
