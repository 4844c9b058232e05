"""Runway's API as the simulator speaks it, at /simulator/runway/ (the origin the SDK's base_url takes).

Paths, the `Authorization: Bearer` and `X-Runway-Version` headers, the task objects
(PENDING, THROTTLED, RUNNING, SUCCEEDED, FAILED, CANCELLED) and Runway's error body
`{"error": "<text>"}`. A task id is the simulated video's id spelled as the UUID Runway uses.
"""

import functools
import json
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path

from governance.simulator import services
from governance.simulator.dialects import dialect_endpoint, json_body
from governance.simulator.errors import SimulatorError
from governance.simulator.models import SAFETY_ERROR_CODE, SimulatedVideo, VideoStatus
from governance.simulator.snapshots import ALL_SNAPSHOTS, API_PACKS, MODEL_TABLES

KIND = "runway"
API_VERSIONS = {"2024-11-06"}  # the versions this dialect answers; another is refused, naming the header
SAFETY_FAILURE = "SAFETY.INPUT.TEXT"
BAD_OUTPUT_FAILURE = "INTERNAL.BAD_OUTPUT.CODE01"


def runway_error(error: SimulatorError) -> JsonResponse:
    return JsonResponse({"error": error.message}, status=error.status, headers=error.headers)


def bad_request(message: str) -> SimulatorError:
    return SimulatorError(400, message)


def check_headers(request: HttpRequest) -> None:
    """Any bearer token is accepted (nothing is stored); none, or another scheme, is refused as Runway does."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header.removeprefix("Bearer ").strip():
        raise SimulatorError(401, "The API key is missing or malformed: send 'Authorization: Bearer <key>'.")
    version = request.headers.get("X-Runway-Version")
    if version not in API_VERSIONS:
        raise bad_request(f"Invalid X-Runway-Version header {version!r}: use one of {', '.join(sorted(API_VERSIONS))}.")


# A Runway endpoint: the key and X-Runway-Version checked, errors in Runway's shape.
endpoint = functools.partial(dialect_endpoint, authenticate=check_headers, render_error=runway_error)


def read_model(value: Any, endpoint_name: str) -> str:
    if not isinstance(value, str) or value not in MODEL_TABLES[KIND]:
        models = ", ".join(sorted(MODEL_TABLES[KIND]))
        raise bad_request(f"Invalid model {value!r}: expected one of {models}.")
    if endpoint_name == "text_to_video" and "image_required" in ALL_SNAPSHOTS[MODEL_TABLES[KIND][value]].features:
        raise bad_request(f"Invalid model {value!r} for text_to_video: it makes videos from images (image_to_video).")
    return MODEL_TABLES[KIND][value]


def read_prompt(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("Invalid promptText: expected a non-empty string.")
    return value


def read_ratio(value: Any, snapshot: str) -> str:
    allowed = [size.replace("x", ":") for size in ALL_SNAPSHOTS[snapshot].sizes]
    if value not in allowed:
        raise bad_request(f"Invalid ratio {value!r} for {snapshot}: expected one of {', '.join(allowed)}.")
    return value.replace(":", "x")


def read_duration(value: Any, snapshot: str) -> int:
    allowed = ALL_SNAPSHOTS[snapshot].seconds
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        choices = ", ".join(str(seconds) for seconds in allowed)
        raise bad_request(f"Invalid duration {value!r} for {snapshot}: expected one of {choices}.")
    return value


def read_prompt_image(value: Any) -> dict:
    """An HTTPS URL or a data URI, or a list of {uri, position}; kept by kind and length, not whole."""
    uri = value[0].get("uri") if isinstance(value, list) and value and isinstance(value[0], dict) else value
    if not isinstance(uri, str) or not (uri.startswith("https://") or uri.startswith("data:image/")):
        raise bad_request("Invalid promptImage: expected an HTTPS URL or a data URI of an image.")
    if uri.startswith("https://"):
        return {"image_url": uri}
    return {"data_uri": uri.split(";", 1)[0], "length": len(uri)}


def create(request: HttpRequest, endpoint_name: str) -> HttpResponse:
    fields = json_body(request)
    snapshot = read_model(fields.get("model"), endpoint_name)
    seed = fields.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad_request("Invalid seed: expected an integer.")
    image = read_prompt_image(fields.get("promptImage")) if endpoint_name == "image_to_video" else None
    spec = services.VideoSpec(
        requested_model=fields["model"],
        snapshot=snapshot,
        prompt=read_prompt(fields.get("promptText")),
        seconds=read_duration(fields.get("duration"), snapshot),
        size=read_ratio(fields.get("ratio"), snapshot),
        input_reference=image,
        dialect=KIND,
        native={"endpoint": endpoint_name, "ratio": fields["ratio"], "seed": seed},
    )
    video, _ = services.create_video(spec=spec)
    return JsonResponse({"id": task_id(video), "estimatedCost": {"credits": credits(video)}})


@endpoint("POST")
def text_to_video(request: HttpRequest) -> HttpResponse:
    return create(request, "text_to_video")


@endpoint("POST")
def image_to_video(request: HttpRequest) -> HttpResponse:
    return create(request, "image_to_video")


@endpoint("GET", "DELETE")
def task(request: HttpRequest, task_uuid: str) -> HttpResponse:
    video_id = video_id_of(task_uuid)
    if request.method == "DELETE":
        services.delete_video(video_id)
        return HttpResponse(status=204)
    video = services.find_video(video_id)
    return JsonResponse(task_object(request, video))


@endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_route(request: HttpRequest) -> HttpResponse:
    raise SimulatorError(404, f"Not found: {request.method} {request.path}.")


def task_id(video: SimulatedVideo) -> str:
    return str(uuid.UUID(hex=video.video_id.removeprefix("video_")))


def video_id_of(task_uuid: str) -> str:
    try:
        return "video_" + uuid.UUID(task_uuid).hex
    except ValueError as error:
        raise SimulatorError(404, f"Task {task_uuid} not found.") from error


def task_object(request: HttpRequest, video: SimulatedVideo) -> dict:
    """The task as GET /v1/tasks/{id} answers it, as of the video's last observation."""
    task = {"id": task_id(video), "createdAt": video.created_at.isoformat().replace("+00:00", "Z")}
    if video.status == VideoStatus.QUEUED:
        return {**task, "status": "PENDING", "estimatedCost": {"credits": credits(video)}}
    if video.status == VideoStatus.IN_PROGRESS:
        return {
            **task,
            "status": "RUNNING",
            "progress": video.progress / 100,
            "estimatedCost": {"credits": credits(video)},
        }
    if video.status == VideoStatus.COMPLETED:
        url, _ = services.result_link(request, video)
        return {**task, "status": "SUCCEEDED", "cost": {"credits": credits(video)}, "output": [url]}
    error = video.error or {}
    refused = error.get("code") == SAFETY_ERROR_CODE
    return {
        **task,
        "status": "FAILED",
        "cost": {"credits": 0},
        "failure": error.get("message") or "The task failed.",
        "failureCode": SAFETY_FAILURE if refused else BAD_OUTPUT_FAILURE,
    }


@functools.cache
def credits_per_second() -> dict[str, Decimal]:
    """Each model's credits per second, from the pack's US$ prices (1 credit = US$0.01)."""
    pack = json.loads(API_PACKS[KIND].read_text())
    return {entry["name"]: Decimal(next(iter(entry["price_per_second"].values()))) * 100 for entry in pack["snapshots"]}


def credits(video: SimulatedVideo) -> int:
    return int(credits_per_second().get(video.model, Decimal(0)) * video.seconds)


app_name = "simulator-runway"

urlpatterns = [
    path("v1/text_to_video", text_to_video, name="text_to_video"),
    path("v1/image_to_video", image_to_video, name="image_to_video"),
    path("v1/tasks/<str:task_uuid>", task, name="task"),
    re_path(r"^", unknown_route, name="unknown_route"),
]
