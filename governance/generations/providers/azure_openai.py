"""Azure OpenAI's v1 API: OpenAI's Videos shape under `/openai/v1`, Azure's `api-key` header, deployment names."""

import httpx

from governance.generations.providers.base import FAILED, UpstreamJob
from governance.generations.providers.openai import OpenAIVideosAdapter
from governance.generations.upstream import CONTENT_FILTERED, QUOTA_EXCEEDED, UpstreamError, openai_error
from governance.policies.engine import Operation

# Error codes Azure uses for a prompt or output its content filter refused.
AZURE_SAFETY_CODES = {
    "content_filter",
    "ResponsibleAIPolicyViolation",
    "moderation_blocked",
    "content_policy_violation",
}
SIMULATED_KEY = "simulated-key"  # the simulator checks that a key is sent, as Azure does, not which one


def azure_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """Azure's errors are OpenAI's shape; a content-filter refusal and an exhausted quota are final."""
    error = openai_error(response, secrets)
    try:
        body = response.json().get("error") or {}
        inner = body.get("innererror") or body.get("inner_error") or {}
    except (ValueError, AttributeError):
        body, inner = {}, {}
    codes = {str(body.get("code") or ""), str(inner.get("code") or "")} if isinstance(body, dict) else set()
    if codes & AZURE_SAFETY_CODES:
        return UpstreamError(error.message, status=error.status, code=CONTENT_FILTERED, retryable=False)
    if error.code in (QUOTA_EXCEEDED, "insufficient_quota"):
        return UpstreamError(error.message, status=error.status, code=QUOTA_EXCEEDED, retryable=False)
    return error


class AzureOpenAIAdapter(OpenAIVideosAdapter):
    """Sora 2 as Azure OpenAI served it on the v1 API (`https://{resource}.openai.azure.com/openai/v1/videos`).

    The snapshot's name is sent as `model`, which Azure reads as the deployment's name, so each
    deployment is named after the snapshot it runs. No `api-version` is sent: the v1 API needs none.
    Azure documents no Idempotency-Key for videos: the header is still sent, but a create is treated
    as one the provider cannot deduplicate (the worker never sends it blindly again).
    """

    operations = frozenset({Operation.CREATE, Operation.REMIX})
    idempotent_create = False
    videos_path = "openai/v1/videos"
    read_error = azure_error

    def auth_headers(self) -> dict[str, str]:
        key = self.connection.credential or (SIMULATED_KEY if self.connection.simulated else "")
        return {"api-key": key} if key else {}

    def job(self, answer: dict) -> UpstreamJob:
        """OpenAI's `video` object; a job failed by Azure's content filter is a safety refusal."""
        job = super().job(answer)
        if job.status == FAILED and job.error_code in AZURE_SAFETY_CODES:
            return UpstreamJob(
                id=job.id, status=FAILED, model=job.model, error_code=CONTENT_FILTERED, error_message=job.error_message
            )
        return job
