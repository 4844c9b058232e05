"""xAI's Grok Imagine video API: `POST /v1/videos/generations` answers `{request_id}`, polled at `/v1/videos/{id}`.

Errors are xAI's `{"code": "<status phrase>", "error": "<message>"}`. A job whose prompt the simulated
safety filter refuses finishes `done` with `respect_moderation: false` and no usable URL, as xAI's
SDK documents for a video that broke its moderation rules.
"""

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path

from governance.simulator import services
from governance.simulator.dialects import dialect_endpoint, json_body
from governance.simulator.errors import SimulatorError
from governance.simulator.models import SAFETY_ERROR_CODE, SimulatedVideo, VideoStatus
from governance.simulator.snapshots import ALL_SNAPSHOTS, API_DEFAULT_MODELS, MODEL_TABLES

API = "xai"
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
# Each (aspect_ratio, resolution) pair as the WIDTHxHEIGHT size the simulated job records.
SIZES = {
    ("16:9", "480p"): "848x480",
    ("9:16", "480p"): "480x848",
    ("1:1", "480p"): "480x480",
    ("4:3", "480p"): "640x480",
    ("3:4", "480p"): "480x640",
    ("3:2", "480p"): "720x480",
    ("2:3", "480p"): "480x720",
    ("16:9", "720p"): "1280x720",
    ("9:16", "720p"): "720x1280",
    ("1:1", "720p"): "720x720",
    ("4:3", "720p"): "960x720",
    ("3:4", "720p"): "720x960",
    ("3:2", "720p"): "1080x720",
    ("2:3", "720p"): "720x1080",
}
DEFAULT_DURATION, DEFAULT_ASPECT_RATIO, DEFAULT_RESOLUTION = 8, "16:9", "480p"
STATUS_PHRASES = {
    400: "Client specified an invalid argument",
    401: "Unauthenticated",
    404: "Some requested entity was not found",
    405: "Method not allowed",
    422: "Unprocessable entity",
    429: "Some resource has been exhausted",
    500: "Internal error",
}


def _check_key(request: HttpRequest) -> None:
    header = request.headers.get("Authorization")
    if header is None:
        raise SimulatorError(401, "No API key provided. Send 'Authorization: Bearer <XAI_API_KEY>'.")
    if not header.startswith("Bearer ") or not header.removeprefix("Bearer ").strip():
        raise SimulatorError(400, "Incorrect API key provided. You can obtain an API key from https://console.x.ai.")


def xai_error(error: SimulatorError) -> JsonResponse:
    body = {"code": STATUS_PHRASES.get(error.status, "Unknown"), "error": error.message}
    return JsonResponse(body, status=error.status, headers=error.headers)


# An xAI endpoint: the bearer key checked, errors in xAI's shape.
xai_endpoint = functools.partial(dialect_endpoint, authenticate=_check_key, render_error=xai_error)


@xai_endpoint("POST")
def generations(request: HttpRequest) -> HttpResponse:
    spec = read_spec(json_body(request, not_an_object="The JSON body must be an object."))
    video, _ = services.create_video(spec=spec)
    return JsonResponse({"request_id": video.video_id})


@xai_endpoint("GET")
def video(request: HttpRequest, request_id: str) -> HttpResponse:
    found = services.find_video(request_id)
    if found.dialect != API:
        raise SimulatorError(404, f"Request '{request_id}' not found.")
    return JsonResponse(answer(request, found))


@xai_endpoint("GET")
def unknown_route(request: HttpRequest) -> HttpResponse:
    raise SimulatorError(404, f"Invalid URL ({request.method} {request.path}).")


def read_spec(fields: dict[str, Any]) -> services.VideoSpec:
    """Validate a create as xAI does: a missing prompt is 422, a bad value a 400 naming its field."""
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise SimulatorError(422, "Failed to deserialize the JSON body: missing field `prompt`.")
    model = fields.get("model") or API_DEFAULT_MODELS[API]
    if model not in MODEL_TABLES[API]:
        raise SimulatorError(400, f"Invalid model: {model!r} does not exist or your team has no access to it.")
    snapshot = ALL_SNAPSHOTS[MODEL_TABLES[API][model]]
    duration = fields.get("duration", DEFAULT_DURATION)
    if isinstance(duration, bool) or duration not in snapshot.seconds:
        raise SimulatorError(400, f"Invalid duration {duration!r}: {model} makes videos of 1 to 15 seconds.")
    aspect_ratio = fields.get("aspect_ratio") or DEFAULT_ASPECT_RATIO
    if aspect_ratio not in ASPECT_RATIOS:
        raise SimulatorError(400, f"Invalid aspect_ratio {aspect_ratio!r}: use one of {', '.join(ASPECT_RATIOS)}.")
    resolution = fields.get("resolution") or DEFAULT_RESOLUTION
    size = SIZES.get((aspect_ratio, resolution))
    if size is None or size not in snapshot.sizes:
        raise SimulatorError(400, f"Invalid resolution {resolution!r} for {model}: use 480p or 720p.")
    image = fields.get("image")
    if image is not None and not (isinstance(image, dict) and isinstance(image.get("url"), str)):
        raise SimulatorError(400, "Invalid image: expected an object with 'url'.")
    return services.VideoSpec(
        requested_model=model,
        snapshot=snapshot.name,
        prompt=prompt,
        seconds=duration,
        size=size,
        input_reference={"image_url": image["url"][:200]} if image else None,
        dialect=API,
        native={name: fields[name] for name in ("aspect_ratio", "resolution", "generate_audio") if name in fields},
    )


def answer(request: HttpRequest, video: SimulatedVideo) -> dict:
    """The poll answer: pending with progress, done with a result link, or failed with xAI's error object."""
    if video.status in (VideoStatus.QUEUED, VideoStatus.IN_PROGRESS):
        return {"status": "pending", "progress": video.progress, "model": video.requested_model}
    if video.status == VideoStatus.COMPLETED:
        url, _ = services.result_link(request, video)
        result = {"url": url, "duration": video.seconds, "respect_moderation": True}
        return {"status": "done", "video": result, "model": video.requested_model, "progress": 100}
    error = video.error or {}
    if error.get("code") == SAFETY_ERROR_CODE:
        result = {"url": "", "duration": video.seconds, "respect_moderation": False}
        return {"status": "done", "video": result, "model": video.requested_model, "progress": 100}
    return {
        "status": "failed",
        "video": {"duration": 0, "respect_moderation": True},
        "model": "",
        "error": {"code": "internal_error", "message": error.get("message", "Video generation failed.")},
    }


urlpatterns = [
    path("v1/videos/generations", generations),
    path("v1/videos/<str:request_id>", video),
    re_path(r"^", unknown_route),
]
