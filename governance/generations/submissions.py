"""What a client asked for: one request read into a Submission the policy engine and the log understand."""

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import HttpRequest

from governance.generations.errors import ApiError
from governance.generations.models import Generation
from governance.generations.parsing import (
    CharacterRequest,
    SourceRequest,
    VideoRequest,
    clean_text,
    fields_fingerprint,
    parse_character_request,
    parse_remix_request,
    parse_source_request,
    parse_video_request,
    read_body,
)
from governance.generations.uploads import CheckedUpload
from governance.policies.engine import DEFAULT_SECONDS, GenerationRequest, Operation, Refusal


@dataclass(frozen=True)
class Submission:
    """What a client asked for, in the terms the policy engine and the log need.

    `source` is the generation a remix, edit or extension starts from (its lineage);
    an edit or extension may instead carry an uploaded source video in `derived`.
    """

    operation: str
    prompt: str
    request: VideoRequest | None = None
    source: Generation | None = None
    invalid: Refusal | None = None
    remix_of: str = ""
    derived: SourceRequest | None = None
    character: CharacterRequest | None = None

    def engine_request(self, bucket: int = 0) -> GenerationRequest:
        if self.operation == Operation.REMIX:
            return GenerationRequest(
                operation=Operation.REMIX,
                model=self.source.resolved_snapshot,
                seconds=self.source.seconds,
                size=self.source.size,
                routing_bucket=bucket,
            )
        if self.operation in (Operation.EDIT, Operation.EXTEND):
            # No model is named: today's policy decides, whichever snapshot made the source.
            source_seconds = self._source_seconds()
            extension = self.operation == Operation.EXTEND
            return GenerationRequest(
                operation=self.operation,
                seconds=self.derived.seconds if extension else source_seconds,
                source_seconds=source_seconds if extension else 0,
                size=(self.source.size if self.source else "") or None,
                routing_bucket=bucket,
            )
        if self.operation == Operation.CHARACTER:
            return GenerationRequest(operation=Operation.CHARACTER, routing_bucket=bucket)
        return GenerationRequest(
            operation=Operation.CREATE,
            model=self.request.model,
            seconds=self.request.seconds,
            size=self.request.size,
            features=self.request.features,
            routing_bucket=bucket,
            image_links=self.request.image_links,
        )

    def _source_seconds(self) -> int:
        if self.source is not None and self.source.seconds:
            return self.source.seconds
        sniffed = self.derived.upload.sniffed.seconds if self.derived and self.derived.upload else None
        return max(1, round(sniffed)) if sniffed else DEFAULT_SECONDS

    def parameters(self) -> dict:
        if self.request is not None:
            return self.request.parameters()
        values: dict = {}
        if self.derived is not None:
            values = self.derived.parameters()
        if self.character is not None:
            values = self.character.parameters()
        if self.remix_of:
            values["remix_of" if self.operation == Operation.REMIX else "source_video_id"] = clean_text(
                self.remix_of[:100]
            )
        if self.source is not None:
            values["source"] = source_lineage(self.source)
        return values

    @property
    def upload(self) -> CheckedUpload | None:
        """The uploaded source or character video, if any."""
        if self.derived is not None:
            return self.derived.upload
        return self.character.upload if self.character is not None else None


def source_lineage(source: Generation) -> dict:
    """What the log keeps of a derived video's source: which video, made on which snapshot, under which policy."""
    return {
        "video_id": source.video_id,
        "operation": source.operation,
        "snapshot": source.resolved_snapshot,
        "policy_revision": source.policy_revision.number if source.policy_revision_id else None,
    }


def parse_submission(
    operation: Operation, *, body: HttpRequest | dict, videos: QuerySet[Generation] | None = None, video_id: str = ""
) -> tuple[Submission, str]:
    """One request of `operation` as a submission, and its body's fingerprint for Idempotency-Key checks.

    `body` is the API request, or fields already read (the playground's, a comparison run's). `videos` are
    those a remix, edit or extension may start from (the key's environment's); `video_id` is a remix's source.
    A request refused as it is read becomes a submission carrying the refusal, so it is logged like any
    other, and the same body sent again has the same fingerprint.
    """
    reading = _Reading(operation, remix_of=video_id)
    try:
        return _READERS[operation](reading, body, videos)
    except ApiError as error:
        return reading.refused(error.refusal)


def find_video(videos: QuerySet[Generation], video_id: str) -> Generation:
    """The video `video_id` among `videos`, or the API's video_not_found."""
    video = videos.select_related("remixed_from", "provider", "policy_revision").filter(video_id=video_id).first()
    if video is None:
        raise ApiError("video_not_found", f"No video '{video_id}' in this environment.", "video_id")
    return video


@dataclass
class _Reading:
    """What is known of a request as it is read: what its refusal, if any, is logged with."""

    operation: Operation
    fields: dict = field(default_factory=dict)
    source: Generation | None = None
    remix_of: str = ""

    def read(self, body: HttpRequest | dict) -> dict:
        """The body's fields (kept for the refusal) and its files, which are returned."""
        self.fields, files = read_body(body) if isinstance(body, HttpRequest) else (body, {})
        return files

    def refused(self, refusal: Refusal) -> tuple[Submission, str]:
        prompt = self.fields.get("prompt")
        if not isinstance(prompt, str) or self.operation == Operation.CHARACTER:
            prompt = ""
        submission = Submission(
            operation=self.operation, prompt=prompt, source=self.source, invalid=refusal, remix_of=self.remix_of
        )
        return submission, fields_fingerprint(self._refused_kind(refusal), self.fields)

    def _refused_kind(self, refusal: Refusal) -> str:
        """How a refused body is fingerprinted: a remix like an accepted one, the others by the refusal's code."""
        if self.operation == Operation.REMIX:
            return f"remix:{self.remix_of}"
        if self.operation == Operation.CREATE:
            return f"invalid:{refusal.code}"
        return f"{self.operation}:invalid:{refusal.code}"


def _read_create(reading: _Reading, body, videos) -> tuple[Submission, str]:
    files = reading.read(body)
    video = parse_video_request(reading.fields, files)
    return Submission(operation=Operation.CREATE, prompt=video.prompt, request=video), video.fingerprint()


def _read_remix(reading: _Reading, body, videos) -> tuple[Submission, str]:
    reading.source = find_video(videos, reading.remix_of)
    reading.read(body)
    prompt = parse_remix_request(reading.fields)
    _require_completed(reading.source, "remixed")
    submission = Submission(operation=Operation.REMIX, prompt=prompt, source=reading.source, remix_of=reading.remix_of)
    return submission, fields_fingerprint(f"remix:{reading.remix_of}", reading.fields)


def _read_derived(reading: _Reading, body, videos) -> tuple[Submission, str]:
    """An edit or extension: a new governed generation from a source video of the environment, or an upload."""
    files = reading.read(body)
    extension = reading.operation == Operation.EXTEND
    derived = parse_source_request(reading.fields, files, extension=extension)
    reading.remix_of = derived.source_id
    if derived.source_id:
        reading.source = find_video(videos, derived.source_id)
        _require_completed(reading.source, "extended" if extension else "edited", param="video")
    elif derived.upload is not None:
        reading.source = _recognised_upload(videos, derived.upload.sha256)
    submission = Submission(
        operation=reading.operation,
        prompt=derived.prompt,
        source=reading.source,
        derived=derived,
        remix_of=derived.source_id,
    )
    return submission, derived.fingerprint(reading.operation)


def _require_completed(source: Generation, done_to: str, *, param: str | None = None) -> None:
    """A remix, edit or extension starts only from a finished video."""
    if source.status != Generation.Status.COMPLETED:
        raise ApiError(
            "video_not_ready",
            f"Video '{source.video_id}' is {source.status}; only a completed video can be {done_to}.",
            param,
        )


def _recognised_upload(videos: QuerySet[Generation], sha256: str) -> Generation | None:
    """The video an uploaded source is, byte for byte, if it is one of `videos`.

    The SDK's `edit` and `extend` helpers upload the source file rather than name it; the log
    still records which generation it came from, as when the source is named by id.
    """
    return (
        videos.delivered_as(sha256)
        .select_related("remixed_from", "provider", "policy_revision")
        .order_by("-created_at")
        .first()
    )


def _read_character(reading: _Reading, body, videos) -> tuple[Submission, str]:
    files = reading.read(body)
    character = parse_character_request(reading.fields, files)
    return Submission(operation=Operation.CHARACTER, prompt="", character=character), character.fingerprint()


_READERS = {
    Operation.CREATE: _read_create,
    Operation.REMIX: _read_remix,
    Operation.EDIT: _read_derived,
    Operation.EXTEND: _read_derived,
    Operation.CHARACTER: _read_character,
}
