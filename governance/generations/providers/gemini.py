"""Google's Gemini API: Gemini Omni Flash video through the Interactions API, with the google-genai SDK.

A video is one interaction: created with `POST /v1beta/interactions` (`background: true`, so the
answer comes at once) and polled with `GET /v1beta/interactions/{id}` until it is completed or
failed. An edit is a new interaction chained to the source's by `previous_interaction_id`. The
finished video is a Gemini File, downloaded with the key and kept by Google for about 48 hours.
See docs/providers/gemini.md for every mapping and its source.
"""

import base64
import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from google import genai
from google.genai import _interactions as sdk_errors
from google.genai import types

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
from governance.generations.upstream import CONTENT_FILTERED, NEVER_SENT, UpstreamError
from governance.policies.engine import Operation

API_VERSION = "v1beta"
KEY_HEADER = "x-goog-api-key"
# Interaction statuses (google-genai's InteractionStatus) in our terms; any status not listed is still running.
STATUSES = {
    "queued": QUEUED,
    "in_progress": IN_PROGRESS,
    "completed": COMPLETED,
    "failed": FAILED,
    "cancelled": FAILED,
    "incomplete": FAILED,
    "budget_exceeded": FAILED,
    "requires_action": FAILED,
    "requires_continuation": FAILED,
}
# The shorter side of our "WIDTHxHEIGHT" sizes, as the Interactions API's `resolution`.
RESOLUTIONS = {360: "360p", 720: "720p", 1080: "1080p", 2160: "4k"}
_clients: dict[tuple, genai.Client] = {}
_clients_lock = threading.Lock()


class GeminiAdapter(ProviderAdapter):
    """The Interactions API through google-genai's `interactions` client, its retries off and its HTTP on our transport.

    Idempotency: the Interactions API takes no idempotency key and cannot be searched by label, so a
    create whose answer was lost, or whose worker died before saving the id, is not sent again: the
    worker fails it as `upstream_outcome_unknown` (see worker.py). The `labels` name our video id, so
    an interaction Google did make can be found in AI Studio's logs.
    """

    operations = frozenset({Operation.CREATE, Operation.EDIT, Operation.REMIX})
    read_error = google_error

    def auth_headers(self) -> dict[str, str]:
        """None on the shared client: the key goes only to Google's own origin (see `media_link`)."""
        return {}

    @property
    def api_version(self) -> str:
        return self.provider.api_version or API_VERSION

    def start(self, generation: Generation) -> UpstreamJob:
        self.check_offered(generation.operation)
        body = self.create_body(generation)
        return self.job(self.call(lambda interactions: interactions.create(**body)))

    def retrieve(self, generation: Generation) -> UpstreamJob:
        return self.job(self.call(lambda interactions: interactions.get(id=generation.upstream_id)))

    def delete(self, generation: Generation) -> None:
        try:
            self.call(lambda interactions: interactions.delete(id=generation.upstream_id))
        except UpstreamError as error:
            if error.status != 404:
                raise

    def create_body(self, generation: Generation) -> dict[str, Any]:
        """The documented create request: the prompt (and images) as `input`, the shape as `response_format`."""
        body: dict[str, Any] = {
            "model": generation.resolved_snapshot,
            "input": self.input(generation),
            "response_format": self.response_format(generation),
            "background": True,
            "store": True,
            "labels": {"snapshot-governance-video": label_value(generation.video_id)},
        }
        if generation.parameters.get("seed") is not None:
            body["generation_config"] = {"seed": int(generation.parameters["seed"])}
        if generation.operation in (Operation.EDIT, Operation.REMIX):
            body["previous_interaction_id"] = self.source_upstream_id(generation)
        return body

    def input(self, generation: Generation) -> str | list[dict]:
        """The prompt alone, or content blocks: the prompt, the image reference, then the reference images."""
        images = []
        data, content_type, url = reference_image(generation)
        if data is not None:
            images.append({"type": "image", "data": base64.b64encode(data).decode(), "mime_type": content_type})
        elif url:
            images.append(image_block(url))
        images += [image_block(item["image_url"]) for item in generation.parameters.get("reference_images") or []]
        if not images:
            return generation.prompt
        return [{"type": "text", "text": generation.prompt}, *images]

    def response_format(self, generation: Generation) -> dict[str, str]:
        """`seconds` as `duration` ("8s"), `size` as `aspect_ratio` and `resolution`; the video as a file URI."""
        answer = {"type": "video", "delivery": "uri"}
        if generation.seconds:
            answer["duration"] = f"{generation.seconds}s"
        if generation.size:
            answer["aspect_ratio"], answer["resolution"] = native_size(generation.size)
        return answer

    def genai_client(self) -> genai.Client:
        """One SDK client per key, base URL, version, timeouts and transport, so polls reuse its connections."""
        provider = self.provider
        key = (
            self.connection.credential,
            self.connection.base_url,
            self.api_version,
            provider.read_timeout,
            provider.connect_timeout,
            upstream.transport,  # the transport itself: a new one at a dead one's address gets its own client
        )
        with _clients_lock:
            if key not in _clients:
                timeout = httpx.Timeout(provider.read_timeout, connect=provider.connect_timeout)
                _clients[key] = genai.Client(
                    api_key=self.connection.credential or "simulated",  # the simulator, like Google, wants a key
                    http_options=types.HttpOptions(
                        base_url=self.connection.base_url,
                        api_version=self.api_version,
                        timeout=int(provider.read_timeout * 1000),
                        retry_options=types.HttpRetryOptions(attempts=1),
                        httpx_client=upstream.http_client(timeout=timeout),
                    ),
                )
            return _clients[key]

    def call(self, request: Callable[[Any], Any]) -> Any:
        """One SDK call on the pooled client, with its own retries off; its errors as UpstreamError."""
        try:
            return request(self.genai_client().interactions)
        except sdk_errors.APIStatusError as error:
            raise google_error(error.response, self.secrets) from error
        except sdk_errors.APITimeoutError as error:
            raise UpstreamError("The Gemini API did not answer in time.", outcome_unknown=True) from error
        except sdk_errors.APIConnectionError as error:
            never_sent = isinstance(error.__cause__, NEVER_SENT)
            message = f"The Gemini API could not be reached: {self.redact(str(error))}"
            raise UpstreamError(message, outcome_unknown=not never_sent) from error
        except sdk_errors.APIResponseValidationError as error:
            raise UpstreamError("The Gemini API answered with something we cannot read.", status=502) from error

    def job(self, interaction: Any) -> UpstreamJob:
        """An interaction in our terms; a refusal by Google's safety filters is `content_filtered`."""
        status = STATUSES.get(str(interaction.status), IN_PROGRESS)
        video = getattr(interaction, "output_video", None)
        common = {"id": str(interaction.id), "model": str(interaction.model or "")}
        if status == COMPLETED and video is not None and (video.uri or video.data):
            return UpstreamJob(status=COMPLETED, progress=100, video=self.media_link(video), **common)
        if status in (QUEUED, IN_PROGRESS):
            return UpstreamJob(status=status, **common)
        code, message = failure(interaction)
        return UpstreamJob(status=FAILED, error_code=code, error_message=self.redact(message)[:1000], **common)

    def media_link(self, video: Any) -> MediaLink:
        content_type = str(video.mime_type or "video/mp4")
        if video.data:
            return MediaLink(data=base64.b64decode(video.data), content_type=content_type)
        url = download_url(video.uri)
        own_origin = origin(url) == origin(self.connection.base_url)
        key = {KEY_HEADER: self.connection.credential} if own_origin and self.connection.credential else {}
        return MediaLink(url=url, content_type=content_type, headers=key)

    @contextlib.contextmanager
    def open_media(self, generation: Generation, variant: str, job: UpstreamJob | None = None) -> Iterator:
        """The video only: Gemini gives no thumbnail (the archive makes one)."""
        if variant != "video":
            yield None
            return
        with super().open_media(generation, variant, job) as media:
            yield media


def failure(interaction: Any) -> tuple[str, str]:
    """The error code and message of an interaction that ended without a video."""
    errors = list(getattr(interaction, "errors", None) or [])
    text = getattr(interaction, "output_text", None) or ""
    message = "; ".join(str(error.message or error.code) for error in errors) or text
    if is_safety_refusal(message, codes=[str(error.code or "") for error in errors]):
        return CONTENT_FILTERED, message or "Blocked by the Gemini API's safety filters."
    if str(interaction.status) == "completed":
        return "no_video", message or "The interaction completed without a video."
    code = str(errors[0].code or "") if errors else ""
    return (code or f"interaction_{interaction.status}")[:64], message or f"The interaction ended {interaction.status}."


def native_size(size: str) -> tuple[str, str]:
    """A "WIDTHxHEIGHT" size as the Interactions API's (`aspect_ratio`, `resolution`); a 400 when it has none."""
    try:
        width, height = (int(side) for side in size.split("x"))
        return ("16:9" if width > height else "9:16"), RESOLUTIONS[min(width, height)]
    except (KeyError, ValueError) as error:
        raise UpstreamError(f"The Gemini API has no size {size}.", status=400, code="invalid_value") from error


def image_block(url: str) -> dict[str, str]:
    """An image content block from an https link or a data: URI."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"type": "image", "data": data, "mime_type": header.removeprefix("data:").split(";")[0]}
    return {"type": "image", "uri": url}


def download_url(uri: str) -> str:
    """A Gemini File is read at `…/files/{name}:download?alt=media`, as the SDK reads it."""
    if re.search(r"/files/[a-z0-9]+$", uri):
        return f"{uri}:download?alt=media"
    return uri


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def label_value(value: str) -> str:
    """Google's label values: lowercase letters, digits, underscores and dashes, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]
