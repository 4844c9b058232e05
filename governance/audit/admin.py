from django.contrib import admin

from governance.audit.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Governance rows change only through services that write their audit event; the admin only shows them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "occurred_at", "action", "actor_label", "project", "environment"]
    list_filter = ["action"]
