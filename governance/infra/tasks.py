from celery import shared_task

from governance.infra import caching


@shared_task
def publish_state() -> bool:
    """Beat: announce the state changes a process could not announce (the cache was away); False if it still is."""
    return caching.publish_state()
