"""Prometheus metrics, defined once for every app. The hot path only increments counters.

prometheus_client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set in settings):
every gunicorn and Celery process on a host writes its own files there, and /metrics
adds them up (governance/operations/metrics.py), so a scrape sees the whole host whichever
process answers it.
"""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "governance_http_requests",
    "HTTP requests answered, by route pattern, method and status code.",
    ["route", "method", "status"],
)
API_REFUSALS = Counter("governance_api_refusals", "Gateway answers in OpenAI's error shape, by error code.", ["code"])
GENERATIONS = Counter(
    "governance_generations",
    "Generations reaching a status (refused, queued, in_progress, completed, failed), counted where it happened.",
    ["status"],
)
UPSTREAM_SECONDS = Histogram(
    "governance_upstream_request_seconds",
    "Time of one call to the upstream provider, by provider, resolved snapshot and operation.",
    ["provider", "snapshot", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UPSTREAM_ERRORS = Counter(
    "governance_upstream_errors",
    "Failed calls to the upstream provider, by provider, snapshot, operation and HTTP status ('unreachable' if none).",
    ["provider", "snapshot", "operation", "status"],
)
