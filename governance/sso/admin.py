from django.contrib import admin
from django.db import transaction

from governance.audit.admin import ReadOnlyAdmin
from governance.audit.services import Actor
from governance.sso.models import GroupRoleMapping, SsoIdentity
from governance.sso.services import mapping_state, record_mapping_change


@admin.register(GroupRoleMapping)
class GroupRoleMappingAdmin(admin.ModelAdmin):
    """Which groups grant which roles; every change is audited in the admin view's own transaction."""

    list_display = ["group", "project", "role"]
    list_filter = ["role", "project"]
    search_fields = ["group"]

    def save_model(self, request, obj, form, change) -> None:
        before = mapping_state(GroupRoleMapping.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        record_mapping_change(mapping=obj, before=before, after=mapping_state(obj), actor=Actor.for_user(request.user))

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            record_mapping_change(
                mapping=obj, before=mapping_state(obj), after=None, actor=Actor.for_user(request.user)
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


@admin.register(SsoIdentity)
class SsoIdentityAdmin(ReadOnlyAdmin):
    list_display = ["user", "issuer", "subject", "last_verified_at", "auditor_granted"]
    search_fields = ["user__username", "subject"]
