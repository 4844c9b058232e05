from django.contrib import admin

from governance.simulator.models import SimulatedModelListing, SimulatedVideo, SimulatorProfile


@admin.register(SimulatorProfile)
class SimulatorProfileAdmin(admin.ModelAdmin):
    list_display = [
        "snapshot",
        "latency_seconds",
        "failure_rate",
        "error_rate",
        "rate_limit_rate",
        "accept_then_timeout",
        "read_timeout_seconds",
    ]


@admin.register(SimulatedVideo)
class SimulatedVideoAdmin(admin.ModelAdmin):
    list_display = ["video_id", "model", "status", "seconds", "size", "created_at", "deleted_at"]
    list_filter = ["model", "status", "destined_to_fail"]
    search_fields = ["video_id", "prompt", "idempotency_key"]
    readonly_fields = [field.name for field in SimulatedVideo._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SimulatedModelListing)
class SimulatedModelListingAdmin(admin.ModelAdmin):
    list_display = ["name", "shutdown_date", "released_on"]
