"""Google's Gemini API as the simulator speaks it: Gemini Omni Flash video through the Interactions API.

`POST /v1beta/interactions` accepts a job (`background: true`) and answers with the interaction;
`GET /v1beta/interactions/{id}` polls it; `DELETE` removes it. The key comes in `x-goog-api-key`
(or `?key=`). A finished interaction's last step is a `model_output` holding a `video` block whose
`uri` is an expiring result link. Errors are Google's `{"error": {code, message, status, details}}`.
"""

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path

from governance.simulator import services
from governance.simulator.dialects import dialect_endpoint, json_body
from governance.simulator.errors import SimulatorError
from governance.simulator.models import SimulatedVideo, VideoStatus
from governance.simulator.snapshots import ALL_SNAPSHOTS, MODEL_TABLES

KIND = "gemini"
API_VERSION = "v1beta"
# HTTP status -> google.rpc.Code name, as Google's error bodies spell it.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
RESOLUTIONS = {"360p": 360, "720p": 720, "1080p": 1080, "4k": 2160}
SAFETY_CODE = "SAFETY"


def google_error(error: SimulatorError) -> JsonResponse:
    """Google's error shape: a BadRequest detail names the field, a RetryInfo detail carries the delay."""
    details: list[dict] = []
    if error.param:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": error.param, "description": error.message}],
            }
        )
    if error.status == 429:
        delay = error.headers.get("Retry-After", "1")
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"})
    body = {
        "error": {
            "code": error.status,
            "message": error.message,
            "status": STATUS_NAMES.get(error.status, "UNKNOWN"),
            **({"details": details} if details else {}),
        }
    }
    return JsonResponse(body, status=error.status)


def check_api_key(request: HttpRequest) -> None:
    """Any key is accepted (nothing is stored); none is 403, a malformed one 400, as Google answers."""
    key = request.headers.get("x-goog-api-key", request.GET.get("key"))
    if key is None:
        raise SimulatorError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if not key.strip() or any(character.isspace() for character in key):
        raise SimulatorError(400, "API key not valid. Please pass a valid API key.")


# A Gemini API endpoint: the API key checked, errors in Google's shape.
gemini_endpoint = functools.partial(dialect_endpoint, authenticate=check_api_key, render_error=google_error)


def read_body(request: HttpRequest) -> dict:
    """The JSON object, refused in Google's words."""
    not_json = "Invalid JSON payload received."
    return json_body(request, not_json=not_json, not_an_object=f"{not_json} Expected an object.")


def read_input(value: Any) -> tuple[str, int]:
    """The prompt (the text blocks joined) and how many images the input holds."""
    if isinstance(value, str):
        blocks = [{"type": "text", "text": value}]
    elif isinstance(value, dict):
        blocks = [value]
    elif isinstance(value, list) and all(isinstance(block, dict) for block in value):
        blocks = value
    else:
        raise SimulatorError(400, "input must be a string or a list of content blocks.", param="input")
    prompt = " ".join(str(block.get("text") or "") for block in blocks if block.get("type") == "text").strip()
    if not prompt:
        raise SimulatorError(400, "input must hold a text prompt.", param="input")
    return prompt, sum(1 for block in blocks if block.get("type") == "image")


def read_model(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SimulatorError(400, "model is required.", param="model")
    if value not in MODEL_TABLES[KIND]:
        raise SimulatorError(
            404, f"models/{value} is not found for API version {API_VERSION}, or is not supported.", param="model"
        )
    return MODEL_TABLES[KIND][value]


def read_video_format(value: Any, snapshot: str, source: SimulatedVideo | None) -> tuple[int, str]:
    """`response_format`'s duration ("8s"), aspect_ratio and resolution as our seconds and size."""
    formats = value if isinstance(value, list) else [value or {}]
    video = next((f for f in formats if isinstance(f, dict) and f.get("type", "video") == "video"), {})
    allowed = ALL_SNAPSHOTS[snapshot]
    seconds = source.seconds if source else allowed.seconds[-1]
    if video.get("duration") is not None:
        text = str(video["duration"]).strip().removesuffix("s")
        if not text.isdigit() or int(text) not in allowed.seconds:
            choices = ", ".join(f"{s}s" for s in allowed.seconds)
            raise SimulatorError(
                400,
                f"Unsupported duration '{video['duration']}' for {snapshot}; supported: {choices}.",
                param="response_format.duration",
            )
        seconds = int(text)
    size = source.size if source else "1280x720"
    if video.get("aspect_ratio") is not None or video.get("resolution") is not None:
        size = read_size(video, snapshot, size)
    return seconds, size


def read_size(video: dict, snapshot: str, default: str) -> str:
    width, height = (int(side) for side in default.split("x"))
    ratio = video.get("aspect_ratio") or ("16:9" if width > height else "9:16")
    short = RESOLUTIONS.get(video.get("resolution") or "720p")
    if ratio not in ("16:9", "9:16") or short is None:
        raise SimulatorError(
            400, f"Unsupported aspect_ratio or resolution for {snapshot}.", param="response_format.resolution"
        )
    long = short * 16 // 9
    size = f"{long}x{short}" if ratio == "16:9" else f"{short}x{long}"
    if size not in ALL_SNAPSHOTS[snapshot].sizes:
        raise SimulatorError(
            400,
            f"Resolution {video.get('resolution') or '720p'} at {ratio} is not supported by {snapshot}.",
            param="response_format.resolution",
        )
    return size


def find_interaction(interaction_id: str, *, roll_faults: bool = True) -> SimulatedVideo:
    try:
        video = services.find_video(interaction_id, roll_faults=roll_faults)
    except SimulatorError as error:
        if error.status != 404:
            raise
        video = None
    if video is None or video.dialect != KIND:
        raise SimulatorError(404, f"Interaction '{interaction_id}' was not found.")
    return video


def read_source(body: dict, snapshot: str) -> SimulatedVideo | None:
    """The interaction an edit continues (`previous_interaction_id`); it must have completed with a video."""
    previous = body.get("previous_interaction_id")
    if not previous:
        return None
    source = find_interaction(str(previous), roll_faults=False)
    if source.status != VideoStatus.COMPLETED:
        raise SimulatorError(
            400, f"Interaction '{previous}' has no video to edit yet.", param="previous_interaction_id"
        )
    if "edits" not in ALL_SNAPSHOTS[snapshot].features:
        raise SimulatorError(400, f"{snapshot} does not support editing.", param="previous_interaction_id")
    return source


def create(request: HttpRequest) -> HttpResponse:
    body = read_body(request)
    snapshot = read_model(body.get("model"))
    prompt, images = read_input(body.get("input"))
    source = read_source(body, snapshot)
    seconds, size = read_video_format(body.get("response_format"), snapshot, source)
    spec = services.VideoSpec(
        requested_model=body["model"],
        snapshot=snapshot,
        prompt=prompt,
        seconds=seconds,
        size=size,
        operation="edit" if source else "create",
        source_video_id=source.video_id if source else "",
        dialect=KIND,
        native={
            key: body[key]
            for key in ("response_format", "generation_config", "previous_interaction_id", "labels", "background")
            if key in body
        }
        | {"images": images},
    )
    video, _ = services.create_video(spec=spec)
    return JsonResponse(interaction(request, video))


def interaction(request: HttpRequest, video: SimulatedVideo) -> dict:
    """A SimulatedVideo as Google's Interaction resource."""
    steps: list[dict] = [{"type": "user_input", "content": [{"type": "text", "text": video.prompt}]}]
    answer: dict[str, Any] = {
        "id": video.video_id,
        "status": video.status,
        "model": video.requested_model,
        "created": video.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated": (video.completed_at or video.created_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "steps": steps,
    }
    if video.source_video_id:
        answer["previous_interaction_id"] = video.source_video_id
    if video.status == VideoStatus.COMPLETED:
        url, _ = services.result_link(request, video, "video")
        steps.append({"type": "model_output", "content": [{"type": "video", "uri": url, "mime_type": "video/mp4"}]})
    if video.status == VideoStatus.FAILED:
        error = video.error or {}
        code = SAFETY_CODE if video.blocked_by_safety else str(error.get("code") or "INTERNAL")
        answer["errors"] = [{"code": code, "message": str(error.get("message") or "The generation failed.")}]
    return answer


@gemini_endpoint("POST")
def interactions(request: HttpRequest) -> HttpResponse:
    return create(request)


@gemini_endpoint("GET", "DELETE")
def interaction_detail(request: HttpRequest, interaction_id: str) -> HttpResponse:
    video = find_interaction(interaction_id)
    if request.method == "DELETE":
        services.delete_video(video.video_id)
        return JsonResponse({})
    return JsonResponse(interaction(request, video))


@gemini_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_route(request: HttpRequest) -> HttpResponse:
    raise SimulatorError(404, f"The requested URL {request.path} was not found on this server.")


urlpatterns = [
    path(f"{API_VERSION}/interactions", interactions),
    path(f"{API_VERSION}/interactions/<str:interaction_id>", interaction_detail),
    re_path(r"^.*$", unknown_route),
]
