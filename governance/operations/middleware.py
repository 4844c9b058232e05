from governance.infra.metrics import HTTP_REQUESTS


class RequestMetricsMiddleware:
    """Count every answer by its URL pattern (not its path, so the label set stays small), method and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        return response
