"""The worker's heartbeat for /readyz, recorded from its main process so a busy pool does not hide it."""

import logging

from celery import bootsteps
from django.conf import settings

from governance.operations.readiness import record_worker_heartbeat

logger = logging.getLogger(__name__)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Record 'this worker is alive' at start and then every WORKER_HEARTBEAT_SECONDS.

    Only a worker that takes generation steps (the default queue) records it: a worker for webhook
    deliveries alone (`-Q webhooks`) must not make /readyz answer for the generation workers.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker) -> None:
        if worker.app.conf.task_default_queue not in worker.app.amqp.queues.consume_from:
            return
        self.worker_name = worker.hostname
        self.beat()
        self.timer_entry = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, self.beat)

    def stop(self, worker) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()

    def beat(self) -> None:
        try:
            record_worker_heartbeat(self.worker_name)
        except Exception:  # the cache is away: /readyz says so, and the worker carries on
            logger.warning("could not record the worker heartbeat", exc_info=True)
