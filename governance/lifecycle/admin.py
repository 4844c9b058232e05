from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.lifecycle.models import ShutdownAlert, Webhook, WebhookDelivery


@admin.register(ShutdownAlert)
class ShutdownAlertAdmin(ReadOnlyAdmin):
    list_display = ["environment", "snapshot", "threshold_days", "shutdown_on", "dependency", "created_at"]


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["project", "kind", "url", "description", "created_at", "deleted_at"]
    exclude = ["encrypted_secret", "encrypted_url"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "webhook", "event_type", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event_type"]
