from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from governance.management_api.errors import ApiError


@csrf_exempt
def unknown_url(request: HttpRequest) -> HttpResponse:
    """Any other path under /api/v1/: a 404 in the error shape, never a page."""
    message = f"There is no {request.path} in the management API; see /api/v1/openapi.json."
    return ApiError(404, "unknown_url", message).as_response()
