"""BytePlus ModelArk's content generation tasks (the Seedance video models).

Create with `POST /api/v3/contents/generations/tasks` (the prompt and any first-frame image as
`content` items, the length, ratio and resolution as top-level fields), then poll
`GET /api/v3/contents/generations/tasks/{id}` until the task has `succeeded` with a
`content.video_url` (a signed link valid for 24 hours, which the base class fetches without our key,
as it does every link at another origin) or `failed` with `error {code, message}`.
See docs/providers/byteplus.md for every mapping and where each fact comes from.
"""

import hashlib
from collections.abc import Sequence

import httpx
from django.conf import settings

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
from governance.generations.tracking import callback_token
from governance.generations.upstream import CONTENT_FILTERED, QUOTA_EXCEEDED, UpstreamError
from governance.policies.engine import Operation

TASKS_PATH = "api/v3/contents/generations/tasks"

# The gateway's sizes -> ModelArk's (ratio, resolution). ModelArk renders each pair at its own
# pixel size (720p 16:9 is 1248x704); the names here are the nominal ones clients know.
SIZES: dict[str, tuple[str, str]] = {
    "854x480": ("16:9", "480p"),
    "480x854": ("9:16", "480p"),
    "480x480": ("1:1", "480p"),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "720x720": ("1:1", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "1080x1080": ("1:1", "1080p"),
}

# Finding a task whose create answer was lost: how many of the model's newest tasks to look through,
# the fields that must match, and how far ModelArk's clock may run behind ours.
RECENT_TASKS = 100
MATCHED_FIELDS = ("seed", "duration", "ratio", "resolution")
CLOCK_SKEW_SECONDS = 60

STATUSES = {
    "queued": QUEUED,
    "running": IN_PROGRESS,
    "succeeded": COMPLETED,
    "failed": FAILED,
    "cancelled": FAILED,
    "expired": FAILED,
}

# ModelArk's codes for a safety refusal (InputTextSensitiveContentDetected,
# OutputVideoSensitiveContentDetected, InputImageRiskDetection, ...) and for an exhausted account.
SAFETY_CODE_MARKERS = ("SensitiveContent", "RiskDetection")
QUOTA_CODES = {"QuotaExceeded", "SetLimitExceeded", "AccountOverdueError", "InsufficientQuota"}


def generation_seed(generation: Generation) -> int:
    """A seed of ModelArk's range (0 to 2**32 - 1) drawn from the generation's id: random enough, and ours."""
    return int.from_bytes(hashlib.sha256(generation.video_id.encode()).digest()[:4], "big")


def is_safety_code(code: str) -> bool:
    return any(marker in code for marker in SAFETY_CODE_MARKERS)


def byteplus_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """ModelArk's error body, `{"error": {"code", "message", "param", "type"}}`, in our terms.

    A safety refusal at create time is final and `content_filtered`; an exhausted quota or an
    account in arrears is final and `quota_exceeded`; rate limits (429) and 5xx are retried.
    """
    code, message = "", f"BytePlus answered HTTP {response.status_code}."
    try:
        error = response.json().get("error") or {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or message)[:1000]
    except (ValueError, AttributeError):
        pass
    retry_after = upstream.retry_after_seconds(response.headers.get("Retry-After"))
    text = upstream.without_secrets(message, *secrets)
    if is_safety_code(code):
        return UpstreamError(text, status=response.status_code, code=CONTENT_FILTERED, retryable=False)
    if code in QUOTA_CODES or "quota" in code.lower():
        return UpstreamError(text, status=response.status_code, code=QUOTA_EXCEEDED, retryable=False)
    return UpstreamError(
        text, status=response.status_code, code=(code or "upstream_error")[:64], retry_after=retry_after
    )


def callback_url(generation: Generation) -> str:
    """Where ModelArk posts the task when its status changes (the create's `callback_url`); see docs/providers.md."""
    return f"{settings.GENERATION_CALLBACK_URL}/callbacks/byteplus/{callback_token(generation.pk)}"


class BytePlusAdapter(ProviderAdapter):
    """Seedance text-to-video and first-frame image-to-video through ModelArk's task API, over httpx.

    Idempotency: ModelArk takes no idempotency key (the SDK's `X-Client-Request-Id` is a fresh trace
    id per request, not a deduplication key), so the worker never sends a create blindly twice (see
    worker.py). When a create's answer was lost (a timeout after BytePlus accepted it, a worker killed
    before saving the id), `find_created()` can still find the task: a generation without a client
    seed is sent with a seed drawn from its own id, which ModelArk echoes on the task, and the search
    looks for a task of this model with that seed and the same length, ratio and resolution, made
    since the generation was accepted. With a seed the client chose, or when the task is not on the
    first page of the model's tasks, the generation fails as `upstream_outcome_unknown` instead.
    """

    operations = frozenset({Operation.CREATE})
    read_error = byteplus_error
    callbacks = True

    def auth_headers(self) -> dict[str, str]:
        """The key as a bearer token; the simulated dialect, like ModelArk, refuses a request without one."""
        return {"Authorization": f"Bearer {self.connection.credential or 'simulated'}"}

    def start(self, generation: Generation) -> UpstreamJob:
        self.check_offered(generation.operation)
        answer = self.client.post(TASKS_PATH, fields=self.create_fields(generation))
        return UpstreamJob(id=str(answer["id"]), status=QUEUED)

    def find_created(self, generation: Generation) -> UpstreamJob | None:
        """The task an earlier attempt of this generation created, if its answer was lost; see the class."""
        if "seed" in generation.parameters:
            return None  # the client's own seed does not tell this generation's task from another's
        fields = self.create_fields(generation)
        page = self.client.get(TASKS_PATH, params={"page_size": RECENT_TASKS, "filter.model": fields["model"]})
        since = generation.created_at.timestamp() - CLOCK_SKEW_SECONDS
        wanted = tuple(fields[name] for name in MATCHED_FIELDS)
        for task in page.get("items") or []:
            if tuple(task.get(name) for name in MATCHED_FIELDS) == wanted and (task.get("created_at") or 0) >= since:
                return self.job(task)
        return None

    def retrieve(self, generation: Generation) -> UpstreamJob:
        return self.job(self.client.get(f"{TASKS_PATH}/{generation.upstream_id}"))

    def retrieve_many(self, generations: Sequence[Generation]) -> dict[int, UpstreamJob | UpstreamError]:
        """A batch's tasks in one call: ModelArk's task list filtered by `filter.task_ids` (repeated), a page as
        large as the batch. A task the list leaves out (deleted, or past the list's 7 days) is asked for alone."""
        if len(generations) <= 1:
            return super().retrieve_many(generations)
        params = [("page_num", 1), ("page_size", len(generations))]
        params += [("filter.task_ids", generation.upstream_id) for generation in generations]
        try:
            page = self.client.get(TASKS_PATH, params=params)
        except UpstreamError as error:
            return {generation.pk: error for generation in generations}
        by_task = {}
        for task in page.get("items") or []:
            try:
                by_task[str(task.get("id"))] = self.job(task)
            except (UpstreamError, KeyError, TypeError, ValueError):
                continue  # that one task's state is not understood: left out, it is asked for alone below
        missing = [generation for generation in generations if generation.upstream_id not in by_task]
        answers: dict[int, UpstreamJob | UpstreamError] = {
            generation.pk: by_task[generation.upstream_id]
            for generation in generations
            if generation.upstream_id in by_task
        }
        answers.update(super().retrieve_many(missing))
        return answers

    def delete(self, generation: Generation) -> None:
        """Cancels a queued task or deletes a finished task's record; a task already gone is fine."""
        try:
            self.client.delete(f"{TASKS_PATH}/{generation.upstream_id}")
        except UpstreamError as error:
            if error.status != 404:
                raise

    def create_fields(self, generation: Generation) -> dict:
        """The create body: ModelArk's current top-level fields, not the older `--ratio` text commands."""
        if generation.size not in SIZES:
            raise UpstreamError(
                f"BytePlus has no ratio and resolution for the size {generation.size}.",
                status=400,
                code="invalid_value",
            )
        ratio, resolution = SIZES[generation.size]
        parameters = generation.parameters
        fields = {
            "model": generation.resolved_snapshot,
            "content": [{"type": "text", "text": generation.prompt}, *self.image_items(generation)],
            "duration": generation.seconds,
            "ratio": ratio,
            "resolution": resolution,
            "seed": parameters["seed"] if "seed" in parameters else generation_seed(generation),
        }
        if "generate_audio" in parameters:
            fields["generate_audio"] = parameters["generate_audio"]
        if settings.GENERATION_CALLBACK_URL:
            fields["callback_url"] = callback_url(generation)
        return fields

    @staticmethod
    def image_items(generation: Generation) -> list[dict]:
        """The image reference as the first frame; `reference_images` as ModelArk's reference images."""
        items = []
        data, content_type, url = reference_image(generation)
        if data is not None or url:
            image = data_uri(data, content_type) if data is not None else url
            items.append({"type": "image_url", "image_url": {"url": image}, "role": "first_frame"})
        for reference in generation.parameters.get("reference_images") or []:
            items.append({"type": "image_url", "image_url": {"url": reference["image_url"]}, "role": "reference_image"})
        return items

    def job(self, answer: dict) -> UpstreamJob:
        """A task in our terms; ModelArk reports no progress, so a running task shows 0 until it finishes."""
        native = str(answer.get("status") or "")
        if native not in STATUSES:
            raise UpstreamError(f"BytePlus reported an unknown task status {native!r}.", status=502)
        status = STATUSES[native]
        error = answer.get("error") or {}
        error_code, error_message = str(error.get("code") or ""), str(error.get("message") or "")
        if status == FAILED:
            error_code, error_message = self.failure(native, error_code, error_message)
        video_url = (answer.get("content") or {}).get("video_url") or ""
        return UpstreamJob(
            id=str(answer["id"]),
            status=status,
            progress=100 if status == COMPLETED else 0,
            model=str(answer.get("model") or ""),
            error_code=error_code,
            error_message=error_message,
            video=MediaLink(url=video_url, content_type="video/mp4") if status == COMPLETED and video_url else None,
        )

    @staticmethod
    def failure(native: str, code: str, message: str) -> tuple[str, str]:
        if native == "cancelled":
            return "cancelled", message or "The task was cancelled at BytePlus."
        if native == "expired":
            return "expired", message or "The task ran past its execution time limit at BytePlus."
        if is_safety_code(code):
            return CONTENT_FILTERED, f"{message} ({code})" if message else code
        return code or "generation_failed", message
