"""Errors as values in OpenAI's shape, mapped to an HTTP answer in one place."""

from django.http import JsonResponse


class SimulatorError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = headers or {}

    def as_openai(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def error_response(error: SimulatorError) -> JsonResponse:
    return JsonResponse(error.as_openai(), status=error.status, headers=error.headers)


def invalid_value(param: str, message: str) -> SimulatorError:
    return SimulatorError(400, message, code="invalid_value", param=param)


def invalid_type(param: str, expected: str) -> SimulatorError:
    return SimulatorError(400, f"Invalid type for '{param}': expected {expected}.", code="invalid_type", param=param)


def video_not_found(video_id: str, param: str | None = None) -> SimulatorError:
    return SimulatorError(404, f"Video with id '{video_id}' not found.", code="video_not_found", param=param)
