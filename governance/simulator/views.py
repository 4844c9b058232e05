"""HTTP face of the simulator: parse, call a service, answer in OpenAI's shapes."""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from governance.simulator import services
from governance.simulator.dialects import dialect_endpoint
from governance.simulator.errors import SimulatorError, error_response
from governance.simulator.models import SimulatedVideo
from governance.simulator.snapshots import API_LUMEN, API_OPENAI

View = Callable[..., HttpResponse]


def openai_endpoint(*methods: str) -> Callable[[View], View]:
    """CSRF-exempt API view that allows `methods` and turns SimulatorError into OpenAI's error shape."""
    endpoint = dialect_endpoint(*methods, authenticate=_check_authorization, render_error=error_response)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def on_api(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.simulated_api = kwargs.pop("api", API_OPENAI)  # which API of the simulator this path serves
            return view(request, *args, **kwargs)

        return endpoint(on_api)

    return decorate


def _check_authorization(request: HttpRequest) -> None:
    """Any bearer token is accepted (nothing is stored); another scheme is refused as a provider would."""
    header = request.headers.get("Authorization")
    if header is not None and not header.startswith("Bearer "):
        raise SimulatorError(401, "Expected 'Authorization: Bearer <key>'.", code="invalid_api_key", param=None)


def _request_fields(request: HttpRequest) -> tuple[dict, Any]:
    """The body's fields and uploads, from JSON or from multipart/urlencoded forms."""
    try:
        if request.content_type == "application/json":
            fields = json.loads(request.body or b"{}")
            if not isinstance(fields, dict):
                raise SimulatorError(400, "The JSON body must be an object.", code="invalid_json")
            return fields, {}
        return services.form_fields(request.POST), request.FILES
    except RequestDataTooBig as error:
        raise SimulatorError(413, "The request body is too large.", code="request_too_large") from error
    except ValueError as error:
        raise SimulatorError(400, "We could not parse the JSON body of your request.", code="invalid_json") from error
    except (MultiPartParserError, SuspiciousOperation) as error:
        raise SimulatorError(
            400, "We could not parse the multipart body of your request.", code="invalid_body"
        ) from error


def _video_answer(video: SimulatedVideo, replayed: bool) -> JsonResponse:
    response = JsonResponse(video.as_openai())
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@openai_endpoint("GET", "POST")
def videos(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        fields, files = _request_fields(request)
        spec = services.read_video_spec(fields, files, api=request.simulated_api)
        key = services.read_idempotency_key(request.headers.get("Idempotency-Key"))
        return _video_answer(*services.create_video(spec=spec, idempotency_key=key))
    return JsonResponse(
        services.list_videos(
            after=request.GET.get("after"), limit=request.GET.get("limit"), order=request.GET.get("order")
        )
    )


@openai_endpoint("GET", "DELETE")
def video(request: HttpRequest, video_id: str) -> HttpResponse:
    if request.method == "DELETE":
        return JsonResponse(services.delete_video(video_id))
    return JsonResponse(services.find_video(video_id).as_openai())


@openai_endpoint("GET")
def video_content(request: HttpRequest, video_id: str) -> HttpResponse:
    content, content_type = services.video_content(video_id, variant=request.GET.get("variant"))
    return HttpResponse(content, content_type=content_type)


@openai_endpoint("POST")
def remix(request: HttpRequest, video_id: str) -> HttpResponse:
    fields, _ = _request_fields(request)
    key = services.read_idempotency_key(request.headers.get("Idempotency-Key"))
    return _video_answer(*services.remix_video(source_id=video_id, fields=fields, idempotency_key=key))


@openai_endpoint("POST")
def edits(request: HttpRequest) -> HttpResponse:
    return _derive(request, "edit")


@openai_endpoint("POST")
def extensions(request: HttpRequest) -> HttpResponse:
    return _derive(request, "extend")


def _derive(request: HttpRequest, operation: str) -> HttpResponse:
    if request.simulated_api == API_LUMEN and operation == "edit":
        raise SimulatorError(404, f"Invalid URL ({request.method} {request.path}).")
    fields, files = _request_fields(request)
    key = services.read_idempotency_key(request.headers.get("Idempotency-Key"))
    video, replayed = services.derive_video(
        operation=operation, fields=fields, files=files, api=request.simulated_api, idempotency_key=key
    )
    return _video_answer(video, replayed)


@openai_endpoint("POST")
def characters(request: HttpRequest) -> HttpResponse:
    if request.simulated_api == API_LUMEN:
        raise SimulatorError(404, f"Invalid URL ({request.method} {request.path}).")
    fields, files = _request_fields(request)
    key = services.read_idempotency_key(request.headers.get("Idempotency-Key"))
    character = services.create_character(fields=fields, files=files, api=request.simulated_api, idempotency_key=key)
    return JsonResponse(character.as_openai())


@openai_endpoint("GET")
def character(request: HttpRequest, character_id: str) -> HttpResponse:
    return JsonResponse(services.find_character(character_id).as_openai())


@openai_endpoint("GET")
def models(request: HttpRequest) -> HttpResponse:
    return JsonResponse(services.list_models(request.simulated_api))


@openai_endpoint("GET")
def model(request: HttpRequest, model_name: str) -> HttpResponse:
    return JsonResponse(services.retrieve_model(model_name, request.simulated_api))


@openai_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_route(request: HttpRequest) -> HttpResponse:
    raise SimulatorError(404, f"Invalid URL ({request.method} {request.path}).")


def linked_file(request: HttpRequest, token: str) -> HttpResponse:
    """A result link, as a provider's storage serves it: no auth header, the signature is the key."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    try:
        content, content_type = services.linked_content(token)
    except SimulatorError as error:
        return HttpResponse(f"{error.code}: {error.message}", status=error.status, content_type="text/plain")
    return HttpResponse(content, content_type=content_type)
