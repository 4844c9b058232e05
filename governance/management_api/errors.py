"""The management API's one error shape, and how the services' refusals map onto it.

Every error is `{"error": {"code", "message", "field"}}` (plus `details` when several fields are
wrong) with its HTTP status: 400 a request that is not valid, 401 no or an unusable token, 403 a
role (or four-eyes) that does not allow it, 404 nothing there among the token's projects, 409 a
state that does not allow it now. `code` is the service's own refusal code where it has one.
"""

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from governance.snapshot_migrations.services import PlanRefused

# A plan refusal's code → the status it is answered with; any other code is a state conflict (409).
PLAN_REFUSAL_STATUS = {
    "role": 403,
    "own_plan": 403,
    "own_evidence": 403,
    "not_named": 403,
    "already_signed": 403,
    "bad_decision": 400,
    "comment_required": 400,
    "bad_verdict": 400,
    "wrong_plan": 404,
}
PLAN_REFUSAL_FIELD = {"bad_decision": "decision", "comment_required": "comment", "bad_verdict": "verdict"}
NON_FIELD = "__all__"


class ApiError(Exception):
    """An answer other than success, raised anywhere under a view and answered in the error shape."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, details=None, headers=None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.details = details or []
        self.headers = headers or {}

    @classmethod
    def not_found(cls, message: str) -> "ApiError":
        return cls(404, "not_found", message)

    @classmethod
    def from_validation(cls, error: ValidationError, *, code: str = "invalid") -> "ApiError":
        """A service's or a form's ValidationError: the first field named, every message in `details`."""
        if not hasattr(error, "error_dict"):
            return cls(400, code, " ".join(error.messages))
        details = [
            {"field": None if field == NON_FIELD else field, "message": message}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
        first = details[0]
        return cls(400, code, first["message"], field=first["field"], details=details if len(details) > 1 else [])

    @classmethod
    def from_plan_refusal(cls, refusal: PlanRefused) -> "ApiError":
        status = PLAN_REFUSAL_STATUS.get(refusal.code, 409)
        return cls(status, refusal.code, refusal.message, field=PLAN_REFUSAL_FIELD.get(refusal.code))

    def as_response(self) -> JsonResponse:
        body = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            body["details"] = self.details
        response = JsonResponse({"error": body}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response
