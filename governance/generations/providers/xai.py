"""xAI's Grok Imagine video API over REST: `POST /v1/videos/generations`, polled at `GET /v1/videos/{request_id}`.

xAI's Python SDK (xai-sdk) speaks gRPC, not this REST API, so the adapter uses httpx.
"""

import re

import httpx

from governance.generations.models import Generation
from governance.generations.providers.base import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    QUEUED,
    MediaLink,
    ProviderAdapter,
    UpstreamJob,
    data_uri,
    reference_image,
)
from governance.generations.upstream import (
    CONTENT_FILTERED,
    QUOTA_EXCEEDED,
    UpstreamError,
    upstream_error,
    without_secrets,
)

# The gateway's sizes as xAI's (aspect_ratio, resolution) pairs.
NATIVE_SIZES: dict[str, tuple[str, str]] = {
    "848x480": ("16:9", "480p"),
    "480x848": ("9:16", "480p"),
    "480x480": ("1:1", "480p"),
    "640x480": ("4:3", "480p"),
    "480x640": ("3:4", "480p"),
    "720x480": ("3:2", "480p"),
    "480x720": ("2:3", "480p"),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "720x720": ("1:1", "720p"),
    "960x720": ("4:3", "720p"),
    "720x960": ("3:4", "720p"),
    "1080x720": ("3:2", "720p"),
    "720x1080": ("2:3", "720p"),
}
CREDITS_EXHAUSTED = re.compile(r"used all available credits|spending limit", re.IGNORECASE)
SIMULATED_KEY = "simulated-key"  # the simulator checks that a bearer key is sent, as xAI does, not which one


def xai_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """xAI's error body, `{"code": "<status phrase>", "error": "<message>"}`; credits run out is final."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    code, message = "", ""
    if isinstance(body, dict):
        error = body.get("error")
        code = str(body.get("code") or "")
        if isinstance(error, dict):
            code, message = str(error.get("code") or code), str(error.get("message") or "")
        else:
            message = str(error or "")
    elif isinstance(body, str):
        message = body.strip().strip('"')
    message = (message or f"xAI answered HTTP {response.status_code}.")[:1000]
    if response.status_code == 429 and CREDITS_EXHAUSTED.search(message):
        return UpstreamError(without_secrets(message, *secrets), status=429, code=QUOTA_EXCEEDED, retryable=False)
    # xAI's codes are status phrases ("Client specified an invalid argument"); keep only a code-shaped one.
    code = code if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", code) else "upstream_error"
    return upstream_error(response, message, code, secrets)


class XAIVideosAdapter(ProviderAdapter):
    """Grok Imagine video: a create answering `{request_id}`, polled until `done`, `failed` or `expired`.

    xAI documents no idempotency key: a create whose answer was lost, or whose worker stopped before
    the request id was saved, is not sent again but fails as `upstream_outcome_unknown` (see worker.py).
    """

    read_error = xai_error

    def auth_headers(self) -> dict[str, str]:
        key = self.connection.credential or (SIMULATED_KEY if self.connection.simulated else "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def start(self, generation: Generation) -> UpstreamJob:
        self.check_offered(generation.operation)
        answer = self.client.post("v1/videos/generations", fields=self.create_fields(generation))
        return UpstreamJob(id=str(answer["request_id"]), status=QUEUED)

    def retrieve(self, generation: Generation) -> UpstreamJob:
        answer = self.client.get(f"v1/videos/{generation.upstream_id}")
        return job_from(generation.upstream_id, answer)

    def create_fields(self, generation: Generation) -> dict:
        if generation.size not in NATIVE_SIZES:
            raise UpstreamError(f"xAI has no size {generation.size}.", status=400, code="invalid_value")
        aspect_ratio, resolution = NATIVE_SIZES[generation.size]
        fields = {
            "model": generation.resolved_snapshot,
            "prompt": generation.prompt,
            "duration": generation.seconds,
            "aspect_ratio": aspect_ratio,
            "resolution": resolution,
        }
        data, content_type, url = reference_image(generation)
        if data is not None or url:
            fields["image"] = {"url": data_uri(data, content_type) if data is not None else url}
        references = generation.parameters.get("reference_images")
        if references:
            fields["reference_images"] = [{"url": reference["image_url"]} for reference in references]
        if "generate_audio" in generation.parameters:
            fields["generate_audio"] = bool(generation.parameters["generate_audio"])
        return fields


def job_from(request_id: str, answer: dict) -> UpstreamJob:
    """xAI's poll answer in our terms. A finished video that breaks xAI's moderation rules has no usable URL."""
    status, model = answer.get("status"), str(answer.get("model") or "")
    progress = max(0, min(100, int(answer.get("progress") or 0)))
    if status == "done":
        video = answer.get("video") or {}
        if video.get("respect_moderation") is False or not video.get("url"):
            message = "xAI's moderation withheld the video (respect_moderation is false)."
            return UpstreamJob(
                id=request_id, status=FAILED, model=model, error_code=CONTENT_FILTERED, error_message=message
            )
        link = MediaLink(url=video["url"], content_type="video/mp4")
        return UpstreamJob(id=request_id, status=COMPLETED, progress=100, model=model, video=link)
    if status == "failed":
        error = answer.get("error") or {}
        code, message = str(error.get("code") or "generation_failed"), str(error.get("message") or "")
        if "moderat" in f"{code} {message}".lower():
            code = CONTENT_FILTERED
        return UpstreamJob(id=request_id, status=FAILED, model=model, error_code=code[:64], error_message=message)
    if status == "expired":
        message = "xAI expired the request before its video was collected."
        return UpstreamJob(id=request_id, status=FAILED, model=model, error_code="expired", error_message=message)
    # pending, or a status xAI adds later: keep polling, as xAI's SDK does.
    return UpstreamJob(id=request_id, status=IN_PROGRESS if progress else QUEUED, progress=progress, model=model)
