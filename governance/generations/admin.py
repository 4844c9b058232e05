from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.generations.models import Character, Generation


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ["video_id", "environment", "requested_model", "resolved_snapshot", "status", "created_at"]
    list_filter = ["status", "environment__project"]
    search_fields = ["video_id", "upstream_id"]


@admin.register(Character)
class CharacterAdmin(ReadOnlyAdmin):
    list_display = ["character_id", "name", "environment", "resolved_snapshot", "upstream_id", "created_at"]
    list_filter = ["environment__project"]
    search_fields = ["character_id", "name", "upstream_id"]
