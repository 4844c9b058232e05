"""Runway's API: a task per video (`/v1/text_to_video`, `/v1/image_to_video`), polled at `/v1/tasks/{id}`.

Calls go through Runway's own SDK (`runwayml`), with its retries off so the worker's apply,
its HTTP on `upstream.transport`, and the API version pinned to the catalog's
(`X-Runway-Version` is the provider's `api_version`, never the SDK's default).
"""

import contextlib
import threading
from collections.abc import Iterator

import httpx
import runwayml

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
    data_uri,
    reference_image,
)
from governance.generations.upstream import CONTENT_FILTERED, QUOTA_EXCEEDED, UpstreamError, without_secrets

STATUSES = {
    "PENDING": QUEUED,
    "THROTTLED": QUEUED,  # over the account's concurrency: queued at Runway, not refused
    "RUNNING": IN_PROGRESS,
    "SUCCEEDED": COMPLETED,
    "FAILED": FAILED,
    "CANCELLED": FAILED,
}
# The key the SDK needs when the simulator answers (it checks for a bearer token, not its value).
SIMULATOR_KEY = "simulated-runway-key"
HTTP_CODES = {400: "invalid_request", 401: "invalid_api_key", 403: "permission_denied", 404: "not_found"}


def runway_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """Runway's error shape, `{"error": "<human-readable text>"}`; running out of credits is a quota error."""
    message = f"Runway answered HTTP {response.status_code}."
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            error = error.get("message")
        message = str(error or message)[:1000]
    except ValueError:
        pass
    status = response.status_code
    code = HTTP_CODES.get(status, "rate_limit_exceeded" if status == 429 else "server_error")
    if "enough credits" in message.lower() or "insufficient credits" in message.lower():
        return UpstreamError(without_secrets(message, *secrets), status=status, code=QUOTA_EXCEEDED, retryable=False)
    return upstream.upstream_error(response, message, code, secrets)


class RunwayAdapter(ProviderAdapter):
    """Runway's tasks: text or image to video (CREATE only; its video to video is not offered yet).

    Idempotency: Runway takes no idempotency key (the SDK sets no idempotency header) and has no
    way to list tasks, so a task it accepted cannot be found again without its id. The residual
    risk is handled once for every such provider by the worker (see worker.py): a create whose
    answer was lost after it was sent (a read timeout, a dropped connection), or whose worker died
    before its id was saved, is not sent again; the generation fails as `upstream_outcome_unknown`.
    A create that never reached Runway (it could not connect) is retried.
    """

    read_error = runway_error

    @property
    def key(self) -> str:
        return self.connection.credential or (SIMULATOR_KEY if self.connection.simulated else "")

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.key,) if self.key else ()

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.provider.read_timeout, connect=self.provider.connect_timeout)

    def sdk(self) -> runwayml.RunwayML:
        """Runway's SDK on our transport, pinned to the catalog's API version, with its own retries off."""
        if not self.api_version:
            raise UpstreamError(
                f"{self.provider.name} has no API version pinned in the catalog (X-Runway-Version); load its pack.",
                code="provider_not_configured",
                retryable=False,
            )
        return sdk_client(
            api_key=self.key, base_url=self.connection.base_url, version=self.api_version, timeout=self.timeout
        )

    def start(self, generation: Generation) -> UpstreamJob:
        """Create the task: image to video when the generation has an image reference, else text to video.

        A model that only animates an image (gen4_turbo) is refused without one by the gateway
        (its `image_required` feature), before it gets here."""
        self.check_offered(generation.operation)
        fields = self.create_fields(generation)
        endpoint = "image_to_video" if "prompt_image" in fields else "text_to_video"
        client = self.sdk()
        with self.translated_errors(creating=True):
            answer = getattr(client, endpoint).create(**fields)
        return UpstreamJob(id=str(answer.id), status=QUEUED)

    def retrieve(self, generation: Generation) -> UpstreamJob:
        client = self.sdk()
        with self.translated_errors():
            task = client.tasks.retrieve(generation.upstream_id)
        return self.job(task.to_dict())

    def delete(self, generation: Generation) -> None:
        """Cancel a running task or delete a finished one; a task Runway no longer has is already gone."""
        try:
            client = self.sdk()
            with self.translated_errors():
                client.tasks.delete(generation.upstream_id)
        except UpstreamError as error:
            if error.status != 404:
                raise

    def create_fields(self, generation: Generation) -> dict:
        """The SDK's arguments: our seconds and "1280x720" size become Runway's `duration` and `ratio` ("1280:720")."""
        fields = {
            "model": generation.resolved_snapshot,
            "prompt_text": generation.prompt,
            "ratio": generation.size.replace("x", ":"),
            "duration": generation.seconds,
        }
        if "seed" in generation.parameters:
            fields["seed"] = int(generation.parameters["seed"])
        data, content_type, url = reference_image(generation)
        if data is not None:
            fields["prompt_image"] = data_uri(data, content_type)
        elif url:
            fields["prompt_image"] = url
        return fields

    @contextlib.contextmanager
    def translated_errors(self, *, creating: bool = False) -> Iterator[None]:
        """The SDK's exceptions as UpstreamError, so the worker's retry rules apply."""
        try:
            yield
        except runwayml.APIStatusError as error:
            raise runway_error(error.response, self.secrets) from error
        except runwayml.APIConnectionError as error:
            never_sent = isinstance(error.__cause__, (httpx.ConnectError, httpx.ConnectTimeout))
            if creating and not never_sent:
                raise UpstreamError(
                    "Runway's answer to the create was lost after it was sent, so a task may exist there; Runway "
                    "takes no idempotency key and cannot list tasks, so it is not sent again.",
                    code="upstream_outcome_unknown",
                    retryable=False,
                    outcome_unknown=True,
                ) from error
            raise UpstreamError(f"Runway could not be reached ({type(error).__name__}).") from error

    def job(self, task: dict) -> UpstreamJob:
        """A task object in our terms; a safety refusal (`SAFETY.INPUT.*`, `SAFETY.OUTPUT.*`) is content_filtered."""
        status = str(task.get("status"))
        if status not in STATUSES:
            raise UpstreamError(f"Runway reported a task status we do not know: {status!r}.", status=502)
        job = {"id": str(task["id"]), "status": STATUSES[status]}
        if status == "RUNNING":
            job["progress"] = percent(task.get("progress"))
        elif status == "SUCCEEDED":
            if not task.get("output"):
                raise UpstreamError("Runway reported the task succeeded but gave no output.", status=502)
            job["video"] = MediaLink(url=str(task["output"][0]), content_type="video/mp4")
        elif status == "FAILED":
            job["error_code"], job["error_message"] = failure(task)
        elif status == "CANCELLED":
            job["error_code"], job["error_message"] = "cancelled", "The task was cancelled or deleted at Runway."
        return UpstreamJob(**job)


def percent(progress) -> int:
    """Runway's progress is a fraction from 0 to 1."""
    try:
        value = float(progress or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, round(value * 100 if value <= 1 else value)))


def failure(task: dict) -> tuple[str, str]:
    """(our error code, message) for a failed task: its failureCode, or content_filtered for a moderation refusal."""
    code = str(task.get("failureCode") or "")
    reason = str(task.get("failure") or "Runway reports the task failed.")
    if code.startswith("SAFETY."):
        return CONTENT_FILTERED, f"{reason} ({code})"
    return (code or "generation_failed")[:64], reason


_sdk_clients: dict[tuple, runwayml.RunwayML] = {}
_sdk_clients_lock = threading.Lock()


def sdk_client(*, api_key: str, base_url: str, version: str, timeout: httpx.Timeout) -> runwayml.RunwayML:
    """One SDK client (and so one connection pool) per key, base URL, API version and transport, per process.

    The key holds the transport itself, not its id: a test's transport, once gone, cannot be
    mistaken for a new one that got the same id."""
    key = (api_key, base_url, version, repr(timeout), upstream.transport)
    with _sdk_clients_lock:
        if key not in _sdk_clients:
            _sdk_clients[key] = runwayml.RunwayML(
                api_key=api_key,
                base_url=base_url,
                runway_version=version,
                timeout=timeout,
                max_retries=0,
                http_client=upstream.http_client(timeout=timeout),
            )
        return _sdk_clients[key]
