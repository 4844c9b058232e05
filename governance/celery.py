import os

from celery import Celery, signals
from django.db import close_old_connections

from governance.operations.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(WorkerHeartbeat)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_database_connections(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: close a connection past CONN_MAX_AGE, or broken.

    Not for a task run eagerly, inside its caller's request or transaction.
    """
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
