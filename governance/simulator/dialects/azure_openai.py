"""Azure OpenAI's v1 API: the Sora simulator's OpenAI-shaped views under `/openai/v1/`, behind Azure's key check.

Azure refuses a request without a key (the `api-key` header, or a bearer token) with its own 401, and
its prompt filter refuses a prompt before any job exists, with a 400 whose code is `content_filter`.
"""

import functools
import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from governance.simulator import views
from governance.simulator.models import SAFETY_MARKER

API = "azure-openai"
ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)
FILTERED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify "
    "your prompt and retry. (Simulated: the prompt holds [unsafe].)"
)


def azure_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The shared view, serving the Azure pack, after Azure's key check and prompt filter."""

    @functools.wraps(view)
    def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        bearer = request.headers.get("Authorization", "").startswith("Bearer ")
        if not request.headers.get("api-key") and not bearer:
            return JsonResponse({"error": {"code": "401", "message": ACCESS_DENIED}}, status=401)
        if request.method == "POST" and SAFETY_MARKER in _prompt(request):
            return JsonResponse(content_filter_error(), status=400)
        return view(request, *args, api=API, **kwargs)

    return csrf_exempt(endpoint)


def _prompt(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            fields = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        return str(fields.get("prompt") or "") if isinstance(fields, dict) else ""
    return request.POST.get("prompt", "")


def content_filter_error() -> dict:
    """Azure's prompt-filter refusal: OpenAI's error shape, with the filter's verdict as `innererror`."""
    results = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual")}
    results["violence"] = {"filtered": True, "severity": "high"}
    return {
        "error": {
            "message": FILTERED,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
        }
    }


urlpatterns = [
    path("openai/v1/videos", azure_endpoint(views.videos)),
    path("openai/v1/videos/<id:video_id>/remix", azure_endpoint(views.remix)),
    path("openai/v1/videos/<id:video_id>", azure_endpoint(views.video)),
    path("openai/v1/videos/<id:video_id>/content", azure_endpoint(views.video_content)),
    re_path(r"^", azure_endpoint(views.unknown_route)),
]
