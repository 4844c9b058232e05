"""Vertex AI's Veo (Google now calls Vertex the Gemini Enterprise Agent Platform), through google-genai.

A job starts with `POST /v1/projects/{project}/locations/{location}/publishers/google/models/
{model}:predictLongRunning` and is polled with `POST …/models/{model}:fetchPredictOperation`
(`{"operationName"}`), as `client.models.generate_videos` and `client.operations.get` send them.
The finished video comes back inline (base64) or, when a `storageUri` was given, as a Cloud
Storage URI. Every call carries an OAuth2 access token of the service account whose key file
`GOOGLE_APPLICATION_CREDENTIALS` names, minted at the token endpoint the key file names and
kept until it expires. The SDK's HTTP and the token requests both go through `upstream.transport`.
"""

import base64
import os
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import google.auth.exceptions
import google.auth.transport
import google.oauth2.credentials
import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2 import service_account

from governance.catalog.models import Snapshot
from governance.generations import upstream
from governance.generations.models import Generation
from governance.generations.providers.base import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    QUEUED,
    MediaLink,
    ProviderAdapter,
    UpstreamJob,
    reference_image,
)
from governance.generations.providers.google import google_error, is_safety_refusal
from governance.generations.upstream import CONTENT_FILTERED, UpstreamError, transport_error, without_secrets

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_LOCATION = "us-central1"
API_VERSION = "v1"
# Without credentials the simulator's dialect answers; it wants a bearer token, any token.
SIMULATED_TOKEN = "simulated"
SIMULATED_PROJECT = "simulated-project"
STORAGE_ORIGIN = "https://storage.googleapis.com"
MODELS_PATH = "publishers/google/models/"

# The gateway's sizes in Veo's terms: (aspectRatio, resolution).
SIZES = {
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
}
# Request options (generation.parameters) -> GenerateVideosConfig fields, each sent only when given.
OPTIONS = {"negative_prompt": "negative_prompt", "seed": "seed", "person_generation": "person_generation"}


def api_error(error: genai_errors.APIError, secrets: tuple[str, ...]) -> UpstreamError:
    if isinstance(error.response, httpx.Response):
        return google_error(error.response, secrets)
    message = without_secrets(str(error.message or error), *secrets)
    return UpstreamError(message, status=error.code, code=str(error.status or "upstream_error")[:64])


def image_from_url(reference: dict) -> types.Image:
    """A reference image as Veo takes one: a data: URI (sent inline) or a gs:// URI. Veo fetches no
    https links, and the worker does not fetch a client's URLs for it: anything else is refused."""
    url = str((reference or {}).get("image_url") or "")
    if url.startswith("gs://"):
        return types.Image(gcs_uri=url)
    if url.startswith("data:") and ";base64," in url:
        header, _, data = url.partition(";base64,")
        try:
            return types.Image(image_bytes=base64.b64decode(data, validate=True), mime_type=header[5:] or "image/png")
        except ValueError as error:
            raise UpstreamError(
                "A reference image's data: URI is not base64.", status=400, code="invalid_value"
            ) from error
    raise UpstreamError(
        "Vertex AI takes reference images inline or from Cloud Storage: upload the image, or send a data: URI "
        "or a gs:// URI.",
        status=400,
        code="invalid_value",
    )


def storage_media_url(gcs_uri: str) -> str:
    """`gs://bucket/object` as a Cloud Storage JSON API download (`alt=media`), which takes the same token."""
    bucket, _, name = gcs_uri.removeprefix("gs://").partition("/")
    return f"{STORAGE_ORIGIN}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class TokenResponse(google.auth.transport.Response):
    def __init__(self, response: httpx.Response):
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self):
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class TokenRequest(google.auth.transport.Request):
    """google-auth's transport interface over httpx on `upstream.transport`, so token minting is a provider call too."""

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            with upstream.http_client(timeout=timeout or 30) as client:
                return TokenResponse(client.request(method, url, content=body, headers=headers))
        except httpx.HTTPError as error:
            raise google.auth.exceptions.TransportError(str(error)) from error


class ServiceAccountCredentials(service_account.Credentials):
    """google-auth's service-account credentials (a JWT-bearer grant at the key file's `token_uri`),
    refreshed through TokenRequest whatever transport the caller offers; a token is kept until it expires."""

    def refresh(self, request) -> None:
        super().refresh(TokenRequest())


_credentials: dict[str, ServiceAccountCredentials] = {}
_credentials_lock = threading.Lock()
_clients: dict[tuple, genai.Client] = {}
_clients_lock = threading.Lock()


def service_account_credentials(key_file: str) -> ServiceAccountCredentials:
    """One credentials object per key file per process, so its access token is reused until it expires."""
    with _credentials_lock:
        if key_file not in _credentials:
            try:
                _credentials[key_file] = ServiceAccountCredentials.from_service_account_file(key_file, scopes=SCOPES)
            except (OSError, ValueError) as error:
                raise UpstreamError(
                    f"The service account key file GOOGLE_APPLICATION_CREDENTIALS names cannot be read: {error}",
                    status=503,
                    code="provider_not_configured",
                    retryable=False,
                ) from error
        return _credentials[key_file]


class VertexVeoAdapter(ProviderAdapter):
    """Veo on Vertex AI: create, then poll the operation until it is done.

    `predictLongRunning` takes no idempotency key and Vertex lists no operations to look a job
    up by, so a job it already made cannot be found again: a create whose answer was lost, or whose
    worker died before saving `upstream_id`, is not sent again but fails as `upstream_outcome_unknown`
    (see worker.py). Each job carries the label `governance_video=<video id>`, so one Google did make
    shows in the project's billing report under its generation.
    """

    read_error = google_error

    @property
    def api_version(self) -> str:
        """The version in every path (`v1`), recorded on each generation; the pack pins it."""
        return self.provider.api_version or API_VERSION

    def auth_headers(self) -> dict[str, str]:
        """None on the pooled client: the SDK puts the access token on each call (Google's tokens, `ya29.…`,
        are redacted from any text by their shape), and a Cloud Storage link carries its own."""
        return {}

    def start(self, generation: Generation) -> UpstreamJob:
        self.check_offered(generation.operation)
        source = types.GenerateVideosSource(prompt=generation.prompt, image=self.first_frame(generation))
        config = self.video_config(generation)
        operation = self.call(
            lambda client: client.models.generate_videos(
                model=generation.resolved_snapshot, source=source, config=config
            )
        )
        return self.job(operation, pending=QUEUED)

    def retrieve(self, generation: Generation) -> UpstreamJob:
        operation = types.GenerateVideosOperation(name=self.operation_name(generation.upstream_id))
        return self.job(self.call(lambda client: client.operations.get(operation)))

    def operation_name(self, upstream_id: str) -> str:
        """The full operation name again: we keep `{model}/operations/{id}`, as the whole name (with the
        project and location) can pass the 100 characters `upstream_id` holds."""
        if upstream_id.startswith("projects/"):
            return upstream_id
        return f"projects/{self.project}/locations/{self.location}/{MODELS_PATH}{upstream_id}"

    def video_config(self, generation: Generation) -> types.GenerateVideosConfig:
        """seconds, size and the request options in Veo's parameters; one video per job."""
        if generation.size not in SIZES:
            raise UpstreamError(f"Veo has no size {generation.size}.", status=400, code="invalid_value")
        aspect_ratio, resolution = SIZES[generation.size]
        parameters = generation.parameters
        config: dict[str, Any] = {
            "number_of_videos": 1,
            "duration_seconds": generation.seconds,
            "aspect_ratio": aspect_ratio,
            "resolution": resolution,
            "labels": {"governance_video": generation.video_id.lower()[:63]},
        }
        config.update({field: parameters[name] for name, field in OPTIONS.items() if name in parameters})
        if "audio" in self.features(generation):
            # Audio is on unless the request turns it off: the pack's prices are the prices with audio.
            config["generate_audio"] = bool(parameters.get("generate_audio", True))
        references = [image_from_url(reference) for reference in parameters.get("reference_images") or []]
        if references:
            config["reference_images"] = [
                types.VideoGenerationReferenceImage(image=image, reference_type="asset") for image in references
            ]
        return types.GenerateVideosConfig(**config)

    def features(self, generation: Generation) -> list[str]:
        snapshot = Snapshot.objects.filter(provider=self.provider, name=generation.resolved_snapshot).first()
        return list(snapshot.features) if snapshot else []

    def first_frame(self, generation: Generation) -> types.Image | None:
        """The image reference as Veo's first frame: an upload's bytes, a data: URI or a gs:// URI."""
        data, content_type, url = reference_image(generation)
        if data is not None:
            return types.Image(image_bytes=data, mime_type=content_type)
        return image_from_url({"image_url": url}) if url else None

    def job(self, operation: types.GenerateVideosOperation, pending: str = IN_PROGRESS) -> UpstreamJob:
        """An operation in our terms: running, failed (its error, or Veo's safety filter) or completed."""
        name = str(operation.name or "").partition(MODELS_PATH)[2] or str(operation.name or "")
        if not operation.done:
            return UpstreamJob(id=name, status=pending)
        if operation.error:
            message = self.redact(str(operation.error.get("message") or "The video could not be generated."))
            code = CONTENT_FILTERED if is_safety_refusal(message) else "generation_failed"
            return UpstreamJob(id=name, status=FAILED, error_code=code, error_message=message)
        result = operation.response or types.GenerateVideosResponse()
        videos = [item.video for item in result.generated_videos or [] if item.video]
        if not videos:
            if result.rai_media_filtered_count:
                reasons = "; ".join(result.rai_media_filtered_reasons or []) or "Veo's safety filter removed the video."
                return UpstreamJob(id=name, status=FAILED, error_code=CONTENT_FILTERED, error_message=reasons)
            return UpstreamJob(
                id=name, status=FAILED, error_code="generation_failed", error_message="Veo finished with no video."
            )
        return UpstreamJob(id=name, status=COMPLETED, progress=100, video=self.media(videos[0]))

    def media(self, video: types.Video) -> MediaLink:
        content_type = video.mime_type or "video/mp4"
        if video.video_bytes is not None:
            return MediaLink(data=video.video_bytes, content_type=content_type)
        token = self.credentials().token or ""
        return MediaLink(url=storage_media_url(video.uri or ""), content_type=content_type, headers=bearer(token))

    # Connection: origin, project, location and credentials.

    @property
    def location(self) -> str:
        return os.environ.get("GOOGLE_CLOUD_LOCATION", "") or DEFAULT_LOCATION

    @property
    def project(self) -> str:
        if self.connection.simulated:
            return os.environ.get("GOOGLE_CLOUD_PROJECT", "") or SIMULATED_PROJECT
        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "") or getattr(self.credentials(), "project_id", "")
        if not project:
            raise UpstreamError(
                f"{self.provider.name} is not configured: set GOOGLE_CLOUD_PROJECT (the key file names no project).",
                status=503,
                code="provider_not_configured",
                retryable=False,
            )
        return project

    @property
    def origin(self) -> str:
        """VERTEX_BASE_URL as given; otherwise the pack's origin, for the configured location."""
        if self.connection.simulated or self.connection.base_url.rstrip("/") != self.provider.base_url.rstrip("/"):
            return self.connection.base_url
        if self.location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{self.location}-aiplatform.googleapis.com"

    def credentials(self) -> google.auth.credentials.Credentials:
        if self.connection.simulated:
            return google.oauth2.credentials.Credentials(token=SIMULATED_TOKEN)
        return service_account_credentials(self.connection.credential)

    def genai_client(self) -> genai.Client:
        timeout = self.provider.read_timeout
        # The transport itself, not its id(): a new transport at a dead one's address must get its own client.
        key = (self.origin, self.project, self.location, self.connection.credential, timeout, upstream.transport)
        with _clients_lock:
            if key not in _clients:
                _clients[key] = genai.Client(
                    vertexai=True,
                    project=self.project,
                    location=self.location,
                    credentials=self.credentials(),
                    http_options=types.HttpOptions(
                        base_url=self.origin.rstrip("/") + "/",
                        api_version=self.api_version,
                        timeout=int(timeout * 1000),
                        retry_options=None,  # no retries of its own: the worker's rules apply
                        httpx_client=upstream.http_client(
                            timeout=httpx.Timeout(timeout, connect=self.provider.connect_timeout)
                        ),
                    ),
                )
            return _clients[key]

    def call(self, request: Callable[[genai.Client], Any]) -> Any:
        """One SDK call; every failure (the API's, the network's, the token endpoint's) as UpstreamError."""
        try:
            return request(self.genai_client())
        except genai_errors.APIError as error:
            raise api_error(error, self.secrets) from error
        except httpx.HTTPError as error:
            raise transport_error(error, self.secrets) from error
        except google.auth.exceptions.RefreshError as error:
            raise UpstreamError(
                f"Google refused an access token for the service account: {self.redact(str(error))}",
                status=401,
                code="authentication_failed",
                retryable=bool(getattr(error, "retryable", False)),
            ) from error
        except google.auth.exceptions.TransportError as error:
            raise UpstreamError(f"Google's token endpoint could not be reached: {self.redact(str(error))}") from error
