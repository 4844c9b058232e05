"""What every provider adapter offers the worker, in the gateway's own terms.

An adapter translates one governed generation into its provider's API and the provider's
answers back into an `UpstreamJob`: an id, one of our four statuses, progress, an error
(`content_filtered` for a safety refusal) and where the finished files are. The worker,
the archive and the content views see only these values, never a provider's shapes.
"""

import abc
import base64
import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import httpx

from governance.catalog.connections import Connection
from governance.catalog.models import Provider
from governance.generations.models import Generation
from governance.generations.upstream import ErrorReader, FilePart, UpstreamClient, UpstreamError, pooled_client
from governance.policies.engine import Operation

QUEUED, IN_PROGRESS, COMPLETED, FAILED = "queued", "in_progress", "completed", "failed"
JOB_STATUSES = (QUEUED, IN_PROGRESS, COMPLETED, FAILED)
CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class MediaLink:
    """Where a finished file is: a link to download (with `headers`, when the provider wants its key
    on it), or the bytes themselves when the provider answers inline (Vertex's base64 video)."""

    url: str = ""
    data: bytes | None = None
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamJob:
    """A provider's job in our terms. `model` is the model the provider says ran it, when it says."""

    id: str
    status: str
    progress: int = 0
    model: str = ""
    error_code: str = ""
    error_message: str = ""
    video: MediaLink | None = None
    thumbnail: MediaLink | None = None
    expires_at: dt.datetime | None = None

    def __post_init__(self):
        if self.status not in JOB_STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def finished(self) -> bool:
        return self.status in (COMPLETED, FAILED)


class ProviderAdapter(abc.ABC):
    """The base of every adapter: its connection, its HTTP client, and the steps the worker takes.

    A subclass sets `operations`, `read_error` (its error shape) and `auth_headers()`, and
    implements `start()` and `retrieve()`. It raises UpstreamError for every failure, so the
    worker's retry rules apply the same way to every provider.
    """

    operations: ClassVar[frozenset[str]] = frozenset({Operation.CREATE})
    read_error: ClassVar[ErrorReader | None] = None
    # Whether a repeated create finds the job the first one made (an Idempotency-Key the provider honours).
    # Where not, the worker remembers a create was sent and never sends it blindly again (see worker.py).
    idempotent_create: ClassVar[bool] = False
    # Whether the provider calls the gateway back when a job finishes (GENERATION_CALLBACK_URL set): the
    # tracker then polls its jobs less often, as a fallback (tracking.py).
    callbacks: ClassVar[bool] = False
    # How many jobs' state `retrieve_many` asks for at once where the provider has no list endpoint.
    concurrent_retrieves: ClassVar[int] = 8

    def __init__(self, provider: Provider, connection: Connection):
        self.provider = provider
        self.connection = connection

    @property
    def api_version(self) -> str:
        """The API version every call is pinned to, recorded on each generation; empty where there is none."""
        return self.provider.api_version

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.connection.credential}"} if self.connection.credential else {}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.connection.credential,) if self.connection.credential else ()

    @property
    def client(self) -> UpstreamClient:
        return pooled_client(
            base_url=self.connection.base_url,
            headers=self.auth_headers(),
            secrets=self.secrets,
            timeout=httpx.Timeout(self.provider.read_timeout, connect=self.provider.connect_timeout),
            read_error=type(self).read_error,
        )

    def redact(self, text: str) -> str:
        return self.client.redact(text)

    @abc.abstractmethod
    def start(self, generation: Generation) -> UpstreamJob:
        """Submit the generation's job (the worker sends it once where the provider cannot deduplicate it)."""

    @abc.abstractmethod
    def retrieve(self, generation: Generation) -> UpstreamJob:
        """The job's state now (`generation.upstream_id` is the provider's id)."""

    def retrieve_many(self, generations: Sequence[Generation]) -> dict[int, UpstreamJob | UpstreamError]:
        """Each generation's job now, by generation id, or the error its retrieve met (the tracker's batch poll).

        By default one `retrieve()` per job, `concurrent_retrieves` at a time; a provider that lists jobs by id
        overrides it with one call per batch. A job missing from the answer is simply left out.
        """
        if len(generations) <= 1:
            return {generation.pk: self._retrieve_or_error(generation) for generation in generations}
        with ThreadPoolExecutor(max_workers=min(self.concurrent_retrieves, len(generations))) as pool:
            answers = pool.map(self._retrieve_or_error, generations)
            return {generation.pk: answer for generation, answer in zip(generations, answers, strict=True)}

    def _retrieve_or_error(self, generation: Generation) -> UpstreamJob | UpstreamError:
        try:
            return self.retrieve(generation)
        except UpstreamError as error:
            return error
        except (KeyError, TypeError, ValueError) as error:
            return UpstreamError(f"The provider answered with an unexpected body ({error!r}).", status=502)

    def find_created(self, generation: Generation) -> UpstreamJob | None:
        """The job an earlier, interrupted create of this generation made, where the provider can be searched
        for it; None where it cannot (most providers), and the worker then does not create again."""
        return None

    def create_character(self, generation: Generation) -> str:
        """Make a character and return its id; only providers offering Operation.CHARACTER have one."""
        raise self.not_offered(Operation.CHARACTER)

    def delete(self, generation: Generation) -> None:  # noqa: B027 (a hook: most providers have nothing to delete)
        """Delete the provider's copy of a video our client deleted; most providers keep none to delete."""

    @contextlib.contextmanager
    def open_media(
        self, generation: Generation, variant: str, job: UpstreamJob | None = None
    ) -> Iterator[tuple[Iterator[bytes], str] | None]:
        """The file of `variant` ("video" or "thumbnail") as chunks and its content type; None if there is none.

        `job` is the finished job as just retrieved; without it (a later download) it is retrieved
        again, which gives a fresh link where the provider's links expire.
        """
        job = job or self.retrieve(generation)
        link = job.video if variant == "video" else job.thumbnail if variant == "thumbnail" else None
        if link is None:
            yield None
            return
        if link.data is not None:
            yield iter([link.data]), link.content_type
            return
        with self.client.stream("GET", link.url, headers=dict(link.headers)) as response:
            content_type = response.headers.get("Content-Type", "") or link.content_type
            yield response.iter_bytes(CHUNK_SIZE), content_type

    def check_offered(self, operation: str) -> None:
        if operation not in self.operations:
            raise self.not_offered(operation)

    def not_offered(self, operation: str) -> UpstreamError:
        return UpstreamError(
            f"{self.provider.name} has no '{operation}' operation.",
            status=400,
            code="operation_not_supported",
        )

    @contextlib.contextmanager
    def files(self, generation: Generation) -> Iterator[list[FilePart]]:
        """The stored uploads this generation sends, opened for streaming and closed afterwards."""
        with contextlib.ExitStack() as stack:
            parts = []
            if generation.input_reference:
                meta = generation.parameters.get("input_reference", {})
                file = stack.enter_context(generation.input_reference.open("rb"))
                parts.append(FilePart("input_reference", meta.get("filename", "reference"), file, meta["content_type"]))
            if generation.source_video:
                meta = generation.parameters.get("video", {})
                file = stack.enter_context(generation.source_video.open("rb"))
                parts.append(FilePart("video", meta.get("filename", "video.mp4"), file, "video/mp4"))
            yield parts

    @staticmethod
    def source_upstream_id(generation: Generation) -> str:
        source = generation.remixed_from
        if source is None or not source.upstream_id:
            raise UpstreamError("The source video is no longer in the log.", status=404, code="source_unavailable")
        return source.upstream_id


def reference_image(generation: Generation) -> tuple[bytes | None, str, str]:
    """The generation's image reference as (bytes, content type, url): an upload's bytes, or the URL the
    client gave; (None, "", "") when there is none. Providers take one or the other (or a data: URI)."""
    if generation.input_reference:
        meta = generation.parameters.get("input_reference", {})
        with generation.input_reference.open("rb") as file:
            return file.read(), meta.get("content_type", "image/png"), ""
    url = (generation.parameters.get("input_reference") or {}).get("image_url", "")
    return None, "", url


def data_uri(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
