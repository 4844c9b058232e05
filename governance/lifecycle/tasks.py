from celery import shared_task

from governance.audit.services import Actor
from governance.catalog.sync import sync_all
from governance.lifecycle import services


@shared_task
def sync_catalog() -> list[dict]:
    """Beat: read every provider's /v1/models, then alert on what is due."""
    results = sync_all(actor=Actor.system("sync_catalog"))
    services.raise_shutdown_alerts()
    return [{"provider": r.provider, "ok": r.ok, "state": r.state, "message": r.message} for r in results]


@shared_task
def raise_shutdown_alerts() -> int:
    return len(services.raise_shutdown_alerts())


@shared_task
def deliver_webhook(delivery_id: int) -> None:
    retry_in = services.attempt_delivery(delivery_id)
    if retry_in is not None:
        services.enqueue_delivery(delivery_id, countdown=retry_in)


@shared_task
def retry_due_webhook_deliveries() -> int:
    return services.retry_due_deliveries()
