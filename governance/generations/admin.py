from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.generations.models import Generation


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ["video_id", "environment", "requested_model", "resolved_snapshot", "status", "created_at"]
    list_filter = ["status", "environment__project"]
    search_fields = ["video_id", "upstream_id"]
