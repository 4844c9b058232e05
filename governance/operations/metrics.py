"""What /metrics shows: every process's counters on this host, and the work queue read from the database."""

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from governance.generations.models import Generation

__all__ = ["CONTENT_TYPE", "exposition"]


class GenerationQueueCollector:
    """Queue depth from the database at scrape time: unfinished generations by status, and the oldest one's age."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        unfinished = Generation.objects.unfinished()
        depth = GaugeMetricFamily(
            "governance_generations_unfinished", "Generations not yet finished (the work queue).", labels=["status"]
        )
        counts = dict(unfinished.order_by().values_list("status").annotate(count=Count("pk")))
        for status in Generation.UNFINISHED:
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        oldest = unfinished.aggregate(oldest=Min("created_at"))["oldest"]
        yield GaugeMetricFamily(
            "governance_generations_oldest_unfinished_seconds",
            "Age of the oldest unfinished generation (0 when there is none).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0,
        )


def exposition() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(GenerationQueueCollector())
    return generate_latest(registry)
