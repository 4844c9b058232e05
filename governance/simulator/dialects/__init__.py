"""The simulator's dialects: each real provider's native protocol, over the same simulated jobs.

A dialect is one module here with `urlpatterns`, mounted at `/simulator/<kind>/` (the
provider's origin, as the gateway's adapter and the provider's SDK take it). It parses the
provider's request into a `services.VideoSpec`, lets `services` accept, pace, fail and serve
the job, and answers in the provider's own shapes: its paths, auth header, job or operation
objects, error bodies, expiring result links and safety refusals. Each builds its views with
`dialect_endpoint` and reads JSON bodies with `json_body`, giving them its own checks and words.
"""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from governance.simulator.errors import SimulatorError

View = Callable[..., HttpResponse]

# Provider kind (the URL prefix) -> module in this package.
DIALECTS: dict[str, str] = {
    "vertex": "vertex",
    "azure-openai": "azure_openai",
    "xai": "xai",
    "gemini": "gemini",
    "runway": "runway",
    "byteplus": "byteplus",
}


def dialect_endpoint(
    *methods: str,
    authenticate: Callable[[HttpRequest], None],
    render_error: Callable[[SimulatorError], HttpResponse],
) -> Callable[[View], View]:
    """A CSRF-exempt API view for `methods`: `authenticate` checks the provider's credentials first, and
    any SimulatorError (an auth refusal, a 405, the view's own) is answered by `render_error` in the
    provider's error shape."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                authenticate(request)
                if request.method not in methods:
                    raise SimulatorError(405, f"Method {request.method} is not allowed for {request.path}.")
                return view(request, *args, **kwargs)
            except SimulatorError as error:
                return render_error(error)

        return csrf_exempt(endpoint)

    return decorate


def json_body(
    request: HttpRequest,
    *,
    not_json: str = "The request body is not valid JSON.",
    not_an_object: str = "The request body must be a JSON object.",
    code: str | None = None,
) -> dict:
    """The request's JSON object (an empty body is `{}`); a 400 in the provider's words otherwise."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as error:
        raise SimulatorError(400, not_json, code=code) from error
    if not isinstance(body, dict):
        raise SimulatorError(400, not_an_object, code=code)
    return body
