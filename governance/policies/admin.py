from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.policies.models import PolicyRevision


@admin.register(PolicyRevision)
class PolicyRevisionAdmin(ReadOnlyAdmin):
    list_display = ["environment", "number", "default_model", "alias_requests", "canary_snapshot", "created_at"]
    list_filter = ["environment__project"]
