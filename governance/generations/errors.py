"""API errors as values with codes, mapped to HTTP in this one place."""

from django.http import JsonResponse

from governance.infra.metrics import API_REFUSALS
from governance.policies.engine import Refusal

ERROR_STATUS = {
    "invalid_api_key": 401,
    "model_not_found": 404,
    "video_not_found": 404,
    "character_not_found": 404,
    "operation_not_allowed": 403,
    "unknown_url": 404,
    "endpoint_not_governed": 404,
    "model_not_allowed": 403,
    "alias_not_allowed": 403,
    "parameter_not_allowed": 403,
    "budget_exceeded": 403,
    "no_policy": 403,
    "snapshot_shut_down": 410,
    "idempotency_key_reused": 422,
    "idempotency_request_in_flight": 409,
    "request_too_large": 413,
    "rate_limit_exceeded": 429,
    "method_not_allowed": 405,
    "upstream_error": 502,
    "provider_not_configured": 503,
    "archive_file_missing": 500,
    "archive_unavailable": 503,
}
ERROR_TYPE = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "conflict_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",  # OpenAI's type for a requests-per-minute limit
    500: "api_error",
    502: "api_error",
    503: "api_error",
}
# The official SDK retries 409, 429 and 5xx unless told not to; a refusal will not change on retry.
RETRYABLE_STATUSES = {409, 429, 502}
RETRYABLE_CODES = {"archive_unavailable"}  # a 503 that passes (the archive's folder or bucket back), unlike the others


class ApiError(Exception):
    """A request refused before or outside the policy engine."""

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.refusal = Refusal(code=code, message=message, param=param)


def status_for(code: str) -> int:
    return ERROR_STATUS.get(code, 400)


def error_response(refusal: Refusal, headers: dict | None = None) -> JsonResponse:
    status = status_for(refusal.code)
    API_REFUSALS.labels(refusal.code).inc()
    body = {
        "error": {
            "message": refusal.message,
            "type": ERROR_TYPE.get(status, "invalid_request_error"),
            "param": refusal.param,
            "code": refusal.code,
        }
    }
    response = JsonResponse(body, status=status)
    retryable = status in RETRYABLE_STATUSES or refusal.code in RETRYABLE_CODES
    response["x-should-retry"] = "true" if retryable else "false"
    for name, value in (headers or {}).items():
        response[name] = value
    return response
