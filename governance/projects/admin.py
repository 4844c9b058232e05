from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.projects.models import ApiKey, Environment, Membership, Project


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "created_at"]


@admin.register(Environment)
class EnvironmentAdmin(ReadOnlyAdmin):
    list_display = ["project", "name", "protected"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["project", "user", "role"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix", "environment", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
