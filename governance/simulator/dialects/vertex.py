"""Vertex AI's Veo protocol, as google-genai (`Client(vertexai=True)`) and the REST reference speak it.

Mounted at /simulator/vertex/ (the origin, like https://us-central1-aiplatform.googleapis.com):
- `POST v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predictLongRunning` starts a job
  and answers `{"name": "<model resource>/operations/<id>"}`;
- `POST …/models/{model}:fetchPredictOperation` with `{"operationName"}` answers the operation:
  `{"name"}` while it runs; `done` with `response.videos[]` (base64 inline, or a `gcsUri` under the
  request's `storageUri`), with `raiMediaFilteredCount`/`raiMediaFilteredReasons` when Veo's safety
  filter removed the video, or with `error` when it failed;
- `POST token` is the OAuth2 token endpoint a simulated service-account key file names
  (`token_uri`): it takes google-auth's JWT-bearer grant and mints an access token.

Every Vertex call needs `Authorization: Bearer <token>`: a token minted here, or `simulated`, which the
gateway's adapter sends when it has no key file. Errors are Google's `{"error": {code, message,
status, details}}`. Vertex has no result links that expire: the video is inline or in the caller's bucket.
"""

import base64
import binascii
import json
import secrets

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from governance.simulator import services
from governance.simulator.dialects import dialect_endpoint, json_body
from governance.simulator.errors import SimulatorError
from governance.simulator.models import SimulatedVideo, VideoStatus
from governance.simulator.snapshots import ALL_SNAPSHOTS, MODEL_TABLES

KIND = "vertex"
SIMULATED_TOKEN = "simulated"
TOKEN_PREFIX = "ya29.simulated-"
TOKEN_SECONDS = 3599
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
SIZES = {
    ("16:9", "720p"): "1280x720",
    ("9:16", "720p"): "720x1280",
    ("16:9", "1080p"): "1920x1080",
    ("9:16", "1080p"): "1080x1920",
}
SAFETY_REASON = (
    "The prompt could not be submitted. This prompt contains words that violate Vertex AI's usage "
    "guidelines (simulated: the prompt holds [unsafe]). Support codes: 58061214"
)
GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    422: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# The 13 of google.rpc.Code.INTERNAL, which a failed operation's `error.code` carries.
INTERNAL = 13


def google_error(error: SimulatorError) -> JsonResponse:
    """Google's error body; a 429 tells the retry delay in RetryInfo, a bad field in BadRequest."""
    details: list[dict] = []
    if error.status == 429:
        delay = error.headers.get("Retry-After", "1")
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"})
    if error.param:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": error.param, "description": error.message}],
            }
        )
    body = {"code": error.status, "message": error.message, "status": GOOGLE_STATUSES.get(error.status, "UNKNOWN")}
    if details:
        body["details"] = details
    return JsonResponse({"error": body}, status=error.status)


def check_token(request: HttpRequest) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        raise SimulatorError(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )
    if token != SIMULATED_TOKEN and not token.startswith(TOKEN_PREFIX):
        raise SimulatorError(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )


# A Vertex AI call: POST only, a bearer token checked, errors in Google's shape.
vertex_endpoint = dialect_endpoint("POST", authenticate=check_token, render_error=google_error)


def read_body(request: HttpRequest) -> dict:
    """The JSON object, refused in Google's words."""
    not_json = "Invalid JSON payload received."
    return json_body(request, not_json=not_json, not_an_object=f"{not_json} Expected an object.")


def model_resource(project: str, location: str, model: str) -> str:
    return f"projects/{project}/locations/{location}/publishers/google/models/{model}"


def served_snapshot(project: str, location: str, model: str) -> str:
    """The snapshot a model id runs; a model the pack lacks, or one past its shutdown date, is not found."""
    snapshot = MODEL_TABLES[KIND].get(model)
    shutdown_on = ALL_SNAPSHOTS[snapshot].shutdown_on if snapshot else None
    if snapshot is None or (shutdown_on is not None and shutdown_on <= timezone.now().date()):
        raise SimulatorError(
            404,
            f"Publisher Model `{model_resource(project, location, model)}` was not found or your project does not "
            "have access to it. Please ensure you are using a valid model version.",
        )
    return snapshot


def read_instance(body: dict) -> dict:
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise SimulatorError(400, "instances must hold exactly one instance.", param="instances")
    instance = instances[0]
    if not isinstance(instance.get("prompt"), str) or not instance["prompt"]:
        raise SimulatorError(400, "The prompt is required: instances[0].prompt.", param="instances[0].prompt")
    return instance


def read_seconds(parameters: dict, snapshot: str) -> int:
    allowed = ALL_SNAPSHOTS[snapshot].seconds
    value = parameters.get("durationSeconds", max(allowed))
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        choices = ", ".join(str(seconds) for seconds in allowed)
        raise SimulatorError(
            400,
            f"Unsupported output video duration {value} seconds for {snapshot}; supported durations are {choices}.",
            param="parameters.durationSeconds",
        )
    return value


def read_size(parameters: dict, snapshot: str) -> str:
    aspect_ratio = parameters.get("aspectRatio", "16:9")
    resolution = parameters.get("resolution", "720p")
    allowed = ALL_SNAPSHOTS[snapshot].sizes
    if not any(ratio == aspect_ratio for ratio, _ in SIZES):
        raise SimulatorError(
            400, f"Unsupported aspect ratio {aspect_ratio!r}; use 16:9 or 9:16.", param="parameters.aspectRatio"
        )
    size = SIZES.get((aspect_ratio, resolution))
    if size is None or size not in allowed:
        raise SimulatorError(
            400,
            f"Unsupported resolution {resolution!r} at {aspect_ratio} for {snapshot}.",
            param="parameters.resolution",
        )
    return size


def read_image(instance: dict) -> dict | None:
    image = instance.get("image")
    if image is None:
        return None
    if not isinstance(image, dict) or not (image.get("bytesBase64Encoded") or image.get("gcsUri")):
        raise SimulatorError(400, "image needs bytesBase64Encoded or gcsUri.", param="instances[0].image")
    if image.get("bytesBase64Encoded"):
        try:
            data = base64.b64decode(image["bytesBase64Encoded"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise SimulatorError(400, "image.bytesBase64Encoded is not base64.", param="instances[0].image") from error
        return {"content_type": image.get("mimeType", ""), "bytes": len(data)}
    return {"gcs_uri": image["gcsUri"]}


@vertex_endpoint
def model_call(request: HttpRequest, version: str, project: str, location: str, call: str) -> HttpResponse:
    """`{model}:{method}`, the last segment of a Vertex model call, sent to its method."""
    model, _, method = call.partition(":")
    methods = {"predictLongRunning": predict_long_running, "fetchPredictOperation": fetch_predict_operation}
    if version not in ("v1", "v1beta1") or method not in methods:
        raise SimulatorError(404, f"The requested URL {request.path} was not found on this server.")
    return methods[method](request, project, location, model)


def predict_long_running(request: HttpRequest, project: str, location: str, model: str) -> HttpResponse:
    snapshot = served_snapshot(project, location, model)
    body = read_body(request)
    instance = read_instance(body)
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise SimulatorError(400, "parameters must be an object.", param="parameters")
    spec = services.VideoSpec(
        requested_model=model,
        snapshot=snapshot,
        prompt=instance["prompt"],
        seconds=read_seconds(parameters, snapshot),
        size=read_size(parameters, snapshot),
        input_reference=read_image(instance),
        dialect=KIND,
        native={
            "parameters": parameters,
            "reference_images": len(instance.get("referenceImages") or []),
            "labels": body.get("labels") or {},
            "operation_prefix": model_resource(project, location, model),
        },
    )
    video, _ = services.create_video(spec=spec)
    return JsonResponse({"name": operation_name(video)})


def operation_name(video: SimulatedVideo) -> str:
    return f"{video.native['operation_prefix']}/operations/{video.video_id}"


def fetch_predict_operation(request: HttpRequest, project: str, location: str, model: str) -> HttpResponse:
    name = read_body(request).get("operationName")
    if not isinstance(name, str) or "/operations/" not in name:
        raise SimulatorError(400, "operationName must name an operation of this model.", param="operationName")
    prefix, _, video_id = name.rpartition("/operations/")
    try:
        video = services.find_video(video_id)
    except SimulatorError:
        video = None
    if video is None or video.dialect != KIND or video.native.get("operation_prefix") != prefix:
        raise SimulatorError(404, f"Operation {name} not found.")
    return JsonResponse(operation(video))


def operation(video: SimulatedVideo) -> dict:
    """The operation as fetchPredictOperation answers it, as of the video's last observation."""
    name = operation_name(video)
    if video.status not in (VideoStatus.COMPLETED, VideoStatus.FAILED):
        return {"name": name}
    if video.blocked_by_safety:
        response = {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [SAFETY_REASON]}
        return {"name": name, "done": True, "response": response}
    if video.status == VideoStatus.FAILED:
        return {"name": name, "done": True, "error": {"code": INTERNAL, "message": video.error["message"]}}
    return {"name": name, "done": True, "response": {"@type": RESPONSE_TYPE, "videos": [result_video(video)]}}


def result_video(video: SimulatedVideo) -> dict:
    storage_uri = (video.native.get("parameters") or {}).get("storageUri")
    if storage_uri:
        return {"gcsUri": f"{storage_uri.rstrip('/')}/{video.video_id}/sample_0.mp4", "mimeType": "video/mp4"}
    content, content_type = services.video_content(video.video_id)
    return {"bytesBase64Encoded": base64.b64encode(content).decode(), "mimeType": content_type}


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    """Google's OAuth2 token endpoint for a JWT-bearer grant: the assertion's shape is checked, not its signature."""
    if request.method != "POST":
        return oauth_error("invalid_request", "The token endpoint takes POST.", status=405)
    if request.POST.get("grant_type") != JWT_BEARER:
        return oauth_error("unsupported_grant_type", f"Invalid grant_type: {request.POST.get('grant_type', '')}")
    claims = assertion_claims(request.POST.get("assertion", ""))
    if claims is None:
        return oauth_error("invalid_grant", "Invalid JWT: the assertion is not an RS256-signed JWT.")
    missing = [claim for claim in ("iss", "aud", "iat", "exp", "scope") if not claims.get(claim)]
    if missing:
        return oauth_error("invalid_grant", f"Invalid JWT: missing claims {', '.join(missing)}.")
    return JsonResponse(
        {"access_token": TOKEN_PREFIX + secrets.token_urlsafe(24), "expires_in": TOKEN_SECONDS, "token_type": "Bearer"}
    )


def assertion_claims(assertion: str) -> dict | None:
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in parts[:2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        return None
    return claims


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@csrf_exempt
def unknown_route(request: HttpRequest) -> HttpResponse:
    return google_error(SimulatorError(404, f"The requested URL {request.path} was not found on this server."))


app_name = "simulator-vertex"
urlpatterns = [
    path("token", token, name="token"),
    path(
        "<str:version>/projects/<str:project>/locations/<str:location>/publishers/google/models/<str:call>",
        model_call,
        name="model-call",
    ),
    re_path(r"^", unknown_route, name="unknown-route"),
]
