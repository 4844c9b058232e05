"""BytePlus ModelArk's content generation task API, as the Seedance models answer it.

Paths under the origin: `POST /api/v3/contents/generations/tasks` answers `{"id"}`;
`GET …/tasks/{id}` the task (`queued`, `running`, `succeeded` with `content.video_url`, `failed` with
`error {code, message}`); `GET …/tasks` a page of tasks; `DELETE …/tasks/{id}` cancels or deletes.
Errors are `{"error": {"code", "message", "param", "type"}}` with ModelArk's codes. A
`[unsafe]` prompt is accepted, then fails with `OutputVideoSensitiveContentDetected`.

The parameters are read as top-level fields (the SDK and the current docs) or, the older way, as
commands after the prompt's text (`--ratio 16:9 --duration 5`). A `callback_url` gets the task posted to it
when it ends (simulator/callbacks.py). Omitted: drafts, service tiers, last frames, and video or audio inputs.
"""

import functools
import re
import secrets
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path
from django.utils import timezone

from governance.simulator import callbacks, services
from governance.simulator.dialects import dialect_endpoint, json_body
from governance.simulator.errors import SimulatorError
from governance.simulator.models import SAFETY_ERROR_CODE, SimulatedVideo, VideoStatus
from governance.simulator.snapshots import ALL_SNAPSHOTS, MODEL_TABLES

KIND = "byteplus"
DEFAULT_DURATION, DEFAULT_RATIO, DEFAULT_RESOLUTION = 5, "16:9", "720p"
FRAMES_PER_SECOND = 24
MAX_PAGE_SIZE = 500  # page_num and page_size are each 1 to 500

# (ratio, resolution) -> the catalog's nominal size and the pixels ModelArk really renders.
# The simulator stands for another company's system, so it keeps its own table, not the adapter's.
RENDERINGS: dict[tuple[str, str], tuple[str, int, int]] = {
    ("16:9", "480p"): ("854x480", 864, 480),
    ("9:16", "480p"): ("480x854", 480, 864),
    ("1:1", "480p"): ("480x480", 640, 640),
    ("16:9", "720p"): ("1280x720", 1248, 704),
    ("9:16", "720p"): ("720x1280", 704, 1248),
    ("1:1", "720p"): ("720x720", 960, 960),
    ("16:9", "1080p"): ("1920x1080", 1920, 1088),
    ("9:16", "1080p"): ("1080x1920", 1088, 1920),
    ("1:1", "1080p"): ("1080x1080", 1440, 1440),
}
# The older spelling of the parameters, still in BytePlus' quick start: commands after the prompt's text
# ("… --resolution 720p --duration 5 --camerafixed false"), long or short. A top-level field wins.
TRAILING_COMMANDS = re.compile(r"(\s+--[a-z]+\s+\S+)+\s*$")
COMMAND = re.compile(r"--([a-z]+)\s+(\S+)")
COMMAND_FIELDS = {
    "resolution": "resolution",
    "rs": "resolution",
    "ratio": "ratio",
    "rt": "ratio",
    "duration": "duration",
    "dur": "duration",
    "seed": "seed",
    "camerafixed": "camera_fixed",
    "cf": "camera_fixed",
    "watermark": "watermark",
    "wm": "watermark",
}

STATUSES = {
    VideoStatus.QUEUED: "queued",
    VideoStatus.IN_PROGRESS: "running",
    VideoStatus.COMPLETED: "succeeded",
    VideoStatus.FAILED: "failed",
}
NATIVE_STATUSES = {native: ours for ours, native in STATUSES.items()}

# The simulator's error codes -> ModelArk's (HTTP status, type, code).
ERROR_SHAPES = {
    400: ("BadRequest", "InvalidParameter"),
    401: ("Unauthorized", "AuthenticationError"),
    404: ("NotFound", "ResourceNotFound"),
    405: ("MethodNotAllowed", "MethodNotAllowed"),
    429: ("TooManyRequests", "RateLimitExceeded.EndpointRPMExceeded"),
    500: ("InternalServerError", "InternalServiceError"),
}


def request_id() -> str:
    return secrets.token_hex(10)


def error_response(error: SimulatorError) -> JsonResponse:
    error_type, default_code = ERROR_SHAPES.get(error.status, ("BadRequest", "InvalidParameter"))
    code = error.code if error.code and error.code[0].isupper() else default_code
    body = {
        "error": {
            "code": code,
            "message": f"{error.message} Request id: {request_id()}",
            "param": error.param or "",
            "type": error_type,
        }
    }
    return JsonResponse(body, status=error.status, headers=error.headers)


def check_api_key(request: HttpRequest) -> None:
    """Any non-empty bearer key is accepted (nothing is stored); a missing or malformed one is refused."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not key.strip():
        raise SimulatorError(
            401,
            "The API key or AK/SK in the request is missing or invalid.",
            code="AuthenticationError",
        )


# A ModelArk endpoint: the bearer key checked, errors in ModelArk's shape.
endpoint = functools.partial(dialect_endpoint, authenticate=check_api_key, render_error=error_response)


def read_body(request: HttpRequest) -> dict:
    return json_body(request, code="InvalidParameter")


def invalid(param: str, message: str) -> SimulatorError:
    return SimulatorError(400, message, code="InvalidParameter", param=param)


def read_snapshot(model: Any) -> str:
    if not model:
        raise SimulatorError(
            400, "The request failed because it is missing the parameter model.", code="MissingParameter", param="model"
        )
    if not isinstance(model, str) or model not in MODEL_TABLES[KIND]:
        raise SimulatorError(
            404,
            f"The model or endpoint {model} does not exist or you do not have access to it.",
            code="InvalidEndpointOrModel.NotFound",
            param="model",
        )
    return MODEL_TABLES[KIND][model]


def read_content(content: Any) -> tuple[str, list[dict]]:
    """The prompt (the text item) and the image items, as ModelArk's `content` list carries them."""
    if not isinstance(content, list) or not content:
        message = "The request failed because it is missing the parameter content."
        raise SimulatorError(400, message, code="MissingParameter", param="content")
    texts = [item.get("text") for item in content if isinstance(item, dict) and item.get("type") == "text"]
    images = [item for item in content if isinstance(item, dict) and item.get("type") == "image_url"]
    if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
        raise invalid("content", "The parameter content must hold exactly one text item with a prompt.")
    for image in images:
        url = (image.get("image_url") or {}).get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:image/")):
            raise invalid("content", "Each image_url item needs image_url.url: an http(s) URL or a data:image/ URI.")
    return texts[0], images


def read_duration(value: Any, snapshot: str) -> int:
    allowed = ALL_SNAPSHOTS[snapshot].seconds
    if value is None:
        value = DEFAULT_DURATION
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise invalid("duration", f"The parameter duration {value!r} is not supported by {snapshot}: {list(allowed)}.")
    return value


def read_size(ratio: Any, resolution: Any, snapshot: str) -> str:
    ratio = DEFAULT_RATIO if ratio is None else ratio
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    rendering = RENDERINGS.get((ratio, resolution))
    if rendering is None or rendering[0] not in ALL_SNAPSHOTS[snapshot].sizes:
        offered = sorted({res for (_, res), (size, *_) in RENDERINGS.items() if size in ALL_SNAPSHOTS[snapshot].sizes})
        if resolution not in offered:
            raise invalid("resolution", f"The parameter resolution {resolution!r} is not supported by {snapshot}.")
        raise invalid("ratio", f"The parameter ratio {ratio!r} is not supported by {snapshot} at {resolution}.")
    return rendering[0]


def text_commands(text: str) -> tuple[str, dict]:
    """The prompt without its trailing `--name value` commands, and those commands as top-level fields."""
    commands = {}
    match = TRAILING_COMMANDS.search(text)
    if match is None:
        return text, commands
    for name, value in COMMAND.findall(match.group(0)):
        if name in COMMAND_FIELDS:
            field = COMMAND_FIELDS[name]
            commands[field] = int(value) if field in ("duration", "seed") and value.lstrip("-").isdigit() else value
    return text[: match.start()].rstrip(), commands


def read_callback_url(value: Any) -> str:
    """`callback_url`: where ModelArk posts the task (the same object as a task query answers) when it ends."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise invalid("callback_url", "The parameter callback_url must be an http(s) URL.")
    return value


def read_spec(body: dict) -> services.VideoSpec:
    snapshot = read_snapshot(body.get("model"))
    text, images = read_content(body.get("content"))
    prompt, commands = text_commands(text)
    body = {**commands, **{name: value for name, value in body.items() if value is not None}}
    size = read_size(body.get("ratio"), body.get("resolution"), snapshot)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise invalid("seed", "The parameter seed must be an integer.")
    first_frame = next((image for image in images if image.get("role", "first_frame") == "first_frame"), None)
    image_urls = [{"role": item.get("role", "first_frame"), "url": item["image_url"]["url"][:200]} for item in images]
    native = {
        "ratio": body.get("ratio") or DEFAULT_RATIO,
        "resolution": body.get("resolution") or DEFAULT_RESOLUTION,
        "seed": seed if seed is not None else -1,
        "generate_audio": bool(body.get("generate_audio", "audio" in ALL_SNAPSHOTS[snapshot].features)),
        "images": image_urls,
    }
    return services.VideoSpec(
        requested_model=body["model"],
        snapshot=snapshot,
        prompt=prompt,
        seconds=read_duration(body.get("duration"), snapshot),
        size=size,
        input_reference={"image_url": first_frame["image_url"]["url"][:200]} if first_frame else None,
        dialect=KIND,
        native=native,
    )


def task_object(request: HttpRequest, video: SimulatedVideo) -> dict:
    return task_body(request.build_absolute_uri("/"), video)


def task_body(origin: str, video: SimulatedVideo) -> dict:
    """The task as ModelArk shows it; `origin` is where this server is reached, for the result link."""
    native = video.native or {}
    task = {
        "id": video.video_id,
        "model": video.model,
        "status": STATUSES[video.status],
        "error": task_error(video),
        "created_at": int(video.created_at.timestamp()),
        "updated_at": int((video.completed_at or video.created_at).timestamp()),
        "seed": native.get("seed", -1),
        "resolution": native.get("resolution", DEFAULT_RESOLUTION),
        "ratio": native.get("ratio", DEFAULT_RATIO),
        "duration": video.seconds,
        "framespersecond": FRAMES_PER_SECOND,
        "generate_audio": native.get("generate_audio", False),
        "draft": False,
        "service_tier": "default",
        "execution_expires_after": 172800,
    }
    if video.status == VideoStatus.COMPLETED:
        url, _ = services.result_link_at(origin, video)
        tokens = completion_tokens(video)
        task["content"] = {"video_url": url}
        task["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
    return task


def task_error(video: SimulatedVideo) -> dict | None:
    if video.status != VideoStatus.FAILED:
        return None
    error = video.error or {}
    if error.get("code") == SAFETY_ERROR_CODE:
        return {
            "code": "OutputVideoSensitiveContentDetected",
            "message": "The request failed because the output video may contain sensitive information. "
            f"({error.get('message', '')})",
        }
    return {"code": "InternalServiceError", "message": error.get("message", "The video generation failed.")}


def completion_tokens(video: SimulatedVideo) -> int:
    """ModelArk's count: width x height x frames per second x seconds / 1024, at the pixels it renders."""
    _, width, height = next(value for value in RENDERINGS.values() if value[0] == video.size)
    return width * height * FRAMES_PER_SECOND * video.seconds // 1024


@endpoint("GET", "POST")
def tasks(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        body = read_body(request)
        callback = read_callback_url(body.get("callback_url"))
        video, _ = services.create_video(spec=read_spec(body))
        if callback:
            origin = request.build_absolute_uri("/")
            callbacks.schedule(video, callback, functools.partial(task_body, origin))
        return JsonResponse({"id": video.video_id})
    return JsonResponse(task_page(request))


def task_page(request: HttpRequest) -> dict:
    """`page_num`, `page_size`, `filter.status`, `filter.model` and `filter.task_ids` (repeated), newest first,
    as `{items, total}`."""
    try:
        page_num = max(1, int(request.GET.get("page_num") or 1))
        page_size = min(MAX_PAGE_SIZE, max(1, int(request.GET.get("page_size") or 10)))
    except ValueError as error:
        raise invalid("page_size", "page_num and page_size must be integers.") from error
    videos = SimulatedVideo.objects.live().filter(dialect=KIND)
    task_ids = request.GET.getlist("filter.task_ids")
    if task_ids:
        videos = videos.filter(video_id__in=task_ids[:MAX_PAGE_SIZE])
    if request.GET.get("filter.model"):
        videos = videos.filter(model=request.GET["filter.model"])
    observed, now = [], timezone.now()
    for video in videos:
        video.observe(now)
        observed.append(video)
    wanted = request.GET.get("filter.status")
    if wanted:
        observed = [video for video in observed if STATUSES[video.status] == wanted]
    page = observed[(page_num - 1) * page_size : page_num * page_size]
    return {"items": [task_object(request, video) for video in page], "total": len(observed)}


@endpoint("GET", "DELETE")
def task(request: HttpRequest, task_id: str) -> HttpResponse:
    video = find_task(task_id)
    if request.method == "DELETE":
        services.delete_video(video.video_id)
        return JsonResponse({})
    return JsonResponse(task_object(request, video))


def find_task(task_id: str) -> SimulatedVideo:
    try:
        video = services.find_video(task_id)
    except SimulatorError as error:
        if error.status != 404:
            raise
        raise SimulatorError(404, f"The specified task {task_id} is not found.", code="ResourceNotFound") from error
    if video.dialect != KIND:
        raise SimulatorError(404, f"The specified task {task_id} is not found.", code="ResourceNotFound")
    return video


@endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_route(request: HttpRequest) -> HttpResponse:
    raise SimulatorError(404, f"The path {request.path} does not exist.", code="ResourceNotFound")


app_name = "simulator-byteplus"

urlpatterns = [
    path("api/v3/contents/generations/tasks", tasks, name="tasks"),
    path("api/v3/contents/generations/tasks/<str:task_id>", task, name="task"),
    re_path(r"^", unknown_route, name="unknown-route"),
]
