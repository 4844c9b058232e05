"""Health, readiness and metrics for load balancers, orchestrators and Prometheus."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from governance.operations import metrics, readiness


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answering; nothing else is touched."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Ready to serve: every check passes (200), or one fails (503).

    Anyone may ask, so each check answers only ok or not; why (a driver's error, a worker's name) is for
    callers with the METRICS_TOKEN bearer token, and for the server log.
    """
    checks = readiness.run_checks()
    ready = all(check.ok for check in checks)
    detailed = bool(settings.METRICS_TOKEN) and _has_metrics_token(request)
    checks_json = {check.name: check.as_json() if detailed else {"ok": check.ok} for check in checks}
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks_json}, status=200 if ready else 503
    )


@never_cache
@require_safe
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    if settings.METRICS_TOKEN and not _has_metrics_token(request):
        return HttpResponse("A valid METRICS_TOKEN bearer token is required.\n", status=401, content_type="text/plain")
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


def _has_metrics_token(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())
