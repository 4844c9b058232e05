"""The simulator's rules: validation, idempotent job creation, request faults, listing, content."""

import datetime as dt
import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from governance.lib.converters import number_or_none
from governance.lib.media import IMAGE_TYPES, VIDEO_TYPES, sniff
from governance.simulator.errors import SimulatorError, invalid_type, invalid_value, video_not_found
from governance.simulator.models import (
    SAFETY_MARKER,
    SimulatedCharacter,
    SimulatedModelListing,
    SimulatedVideo,
    SimulatorProfile,
    VideoStatus,
)
from governance.simulator.rendering import render
from governance.simulator.snapshots import (
    ALL_SNAPSHOTS,
    API_DEFAULT_MODELS,
    API_LUMEN,
    API_OPENAI,
    DEFAULT_SECONDS,
    DEFAULT_SIZE,
    MODEL_TABLES,
)

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
CONTENT_VARIANTS = {
    "video": ("sample.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
EXTENSION_FIELDS = ("characters", "storyboard", "style")
IDEMPOTENCY_KEY_MAX_LENGTH = 255
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100

# Injection points for tests: seed `rolls` to make request faults repeatable, and
# replace `pause` so an accept-then-timeout profile does not really sleep.
rolls = random.Random()
pause: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class VideoSpec:
    """A validated request for one video job."""

    requested_model: str
    snapshot: str
    prompt: str
    seconds: int
    size: str
    input_reference: dict | None = None
    characters: Any = None
    storyboard: Any = None
    style: Any = None
    remixed_from_video_id: str | None = None
    operation: str = "create"
    source_video_id: str = ""
    source_sha256: str = ""
    dialect: str = API_OPENAI
    native: Mapping[str, Any] | None = None  # the dialect's own fields, kept on the job as received

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()


def form_fields(form: QueryDict) -> dict[str, Any]:
    """Multipart/urlencoded fields as JSON would carry them: `a[b]=1` is {"a": {"b": "1"}}, `a[]` a list."""
    fields: dict[str, Any] = {}
    for key, values in form.lists():
        name, _, rest = key.partition("[")
        if not rest:
            fields[name] = values[-1]
        elif rest == "]":
            fields[name] = list(values)
        else:
            nested = fields[name] if isinstance(fields.get(name), dict) else {}
            nested[rest.removesuffix("]")] = values[-1]
            fields[name] = nested
    return fields


def resolve_model(model: Any, api: str = API_OPENAI) -> str:
    if not isinstance(model, str):
        raise invalid_type("model", "a string")
    if model not in MODEL_TABLES[api]:
        raise SimulatorError(
            400,
            f"The model '{model}' does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    return MODEL_TABLES[api][model]


def _read_prompt(value: Any) -> str:
    if value is None or value == "":
        raise SimulatorError(
            400, "Missing required parameter: 'prompt'.", code="missing_required_parameter", param="prompt"
        )
    if not isinstance(value, str):
        raise invalid_type("prompt", "a string")
    return value


def _read_seconds(value: Any, snapshot: str) -> int:
    allowed = ALL_SNAPSHOTS[snapshot].seconds
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid_type("seconds", "a string such as '4'")
    text = str(value).strip()
    if number_or_none(text) not in allowed:
        choices = ", ".join(f"'{seconds}'" for seconds in allowed)
        raise invalid_value("seconds", f"Invalid value: '{value}'. Supported values for {snapshot} are: {choices}.")
    return int(text)


def _read_size(value: Any, snapshot: str) -> str:
    allowed = ALL_SNAPSHOTS[snapshot].sizes
    if not isinstance(value, str):
        raise invalid_type("size", "a string such as '720x1280'")
    if value not in allowed:
        choices = ", ".join(f"'{size}'" for size in allowed)
        raise invalid_value("size", f"Invalid value: '{value}'. Supported values for {snapshot} are: {choices}.")
    return value


def _read_input_reference(value: Any, upload: UploadedFile | None, size: str) -> dict | None:
    """A reference image must really be an image (by its bytes) and have the requested video's size."""
    if upload is not None:
        sniffed = sniff(upload)
        if sniffed is None or sniffed.content_type not in IMAGE_TYPES:
            raise invalid_value("input_reference", "Unsupported input_reference file; use a JPEG, PNG or WebP image.")
        if sniffed.size and sniffed.size != size:
            raise invalid_value(
                "input_reference",
                f"Inpaint image must match the requested width and height: got {sniffed.size}, expected {size}.",
            )
        return {
            "filename": upload.name,
            "content_type": sniffed.content_type,
            "bytes": upload.size,
            "sha256": _sha256(upload),
        }
    if value is None:
        return None
    if not isinstance(value, dict) or not any(isinstance(value.get(key), str) for key in ("image_url", "file_id")):
        raise invalid_type("input_reference", "an image upload or an object with 'image_url' or 'file_id'")
    return {key: value[key] for key in ("image_url", "file_id") if isinstance(value.get(key), str)}


def _read_extension(value: Any) -> Any:
    """Multipart carries structured extension fields as JSON text; keep them structured."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _optional(fields: Mapping[str, Any], name: str, default: str) -> Any:
    """An optional field; absent, null and empty all mean the API default."""
    value = fields.get(name)
    return default if value is None or value == "" else value


def read_video_spec(fields: Mapping[str, Any], files: Mapping[str, UploadedFile], api: str = API_OPENAI) -> VideoSpec:
    """Validate a create request the way the Videos API does, naming the offending param.

    The Lumen API spells the length `duration` (an integer) and has no `seconds`.
    """
    seconds_field = "duration" if api == API_LUMEN else "seconds"
    wrong_field = "seconds" if api == API_LUMEN else "duration"
    if fields.get(wrong_field) is not None:
        raise SimulatorError(
            400, f"Unrecognized request argument supplied: {wrong_field}.", code="unknown_parameter", param=wrong_field
        )
    prompt = _read_prompt(fields.get("prompt"))
    requested_model = _optional(fields, "model", API_DEFAULT_MODELS[api])
    snapshot = resolve_model(requested_model, api)
    size = _read_size(_optional(fields, "size", DEFAULT_SIZE), snapshot)
    return VideoSpec(
        requested_model=requested_model,
        snapshot=snapshot,
        prompt=prompt,
        seconds=_read_seconds(_optional(fields, seconds_field, DEFAULT_SECONDS), snapshot),
        size=size,
        input_reference=_read_input_reference(fields.get("input_reference"), files.get("input_reference"), size),
        **{name: _read_extension(fields.get(name)) for name in EXTENSION_FIELDS},
    )


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def read_idempotency_key(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise invalid_value(
            "Idempotency-Key", f"Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
        )
    return value


def roll_request_faults(profile: SimulatorProfile) -> None:
    """Answer this request with a simulated 429 or 500 as often as the profile says."""
    if profile.rate_limit_rate and rolls.random() < profile.rate_limit_rate:
        raise SimulatorError(
            429,
            f"Rate limit reached for {profile.snapshot}. Please try again in 1s.",
            code="rate_limit_exceeded",
            type="requests",
            headers={"Retry-After": "1"},
        )
    if profile.error_rate and rolls.random() < profile.error_rate:
        raise SimulatorError(
            500,
            "The server had an error while processing your request (simulated).",
            code="server_error",
            type="server_error",
        )


def destined_to_fail(video_id: str, failure_rate: float) -> bool:
    """A job's fate, decided from a hash of its id so the same id always meets the same end."""
    draw = int.from_bytes(hashlib.sha256(video_id.encode()).digest()[:8], "big") / 2**64
    return draw < failure_rate


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def create_video(
    *, spec: VideoSpec, idempotency_key: str | None = None, now: dt.datetime | None = None
) -> tuple[SimulatedVideo, bool]:
    """Accept one job, or return the one already accepted under this Idempotency-Key.

    Returns the video and whether it was replayed. A key reused with a different
    request is refused, so a retry can never be mistaken for a new job.
    """
    now = _now(now)
    profile = SimulatorProfile.for_snapshot(spec.snapshot)
    roll_request_faults(profile)
    fingerprint = spec.fingerprint()
    if idempotency_key:
        existing = SimulatedVideo.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint, now), True
    video = SimulatedVideo(
        model=spec.snapshot,
        requested_model=spec.requested_model,
        prompt=spec.prompt,
        seconds=spec.seconds,
        size=spec.size,
        input_reference=spec.input_reference,
        characters=spec.characters,
        storyboard=spec.storyboard,
        style=spec.style,
        remixed_from_video_id=spec.remixed_from_video_id,
        operation=spec.operation,
        source_video_id=spec.source_video_id,
        dialect=spec.dialect,
        native=dict(spec.native or {}),
        blocked_by_safety=SAFETY_MARKER in spec.prompt,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        latency_seconds=job_latency(profile, spec.seconds),
        created_at=now,
    )
    video.destined_to_fail = destined_to_fail(video.video_id, profile.job_failure_rate)
    try:
        with transaction.atomic():
            video.save()
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent request with the same key won the race; answer with its job.
        existing = SimulatedVideo.objects.get(idempotency_key=idempotency_key)
        return _replay(existing, fingerprint, now), True
    video.observe(now)
    if profile.accept_then_timeout:
        pause(profile.read_timeout_seconds)
    return video, False


def job_latency(profile: SimulatorProfile, seconds: int) -> float:
    """How long the job runs: SIMULATOR_JOB_SECONDS ("60-300") draws each job's anew from that range, as real
    jobs vary (the in-flight bench); otherwise the snapshot's profile decides."""
    if settings.SIMULATOR_JOB_SECONDS:
        low, _, high = settings.SIMULATOR_JOB_SECONDS.partition("-")
        return rolls.uniform(float(low), float(high or low))
    return profile.latency_for(seconds)


def _replay(video: SimulatedVideo, fingerprint: str, now: dt.datetime) -> SimulatedVideo:
    if video.request_fingerprint != fingerprint:
        raise SimulatorError(
            422,
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
        )
    video.observe(now)
    return video


def find_video(video_id: str, *, now: dt.datetime | None = None, roll_faults: bool = True) -> SimulatedVideo:
    """A live video, observed at `now`; deleted and unknown ids are both not found."""
    video = SimulatedVideo.objects.live().filter(video_id=video_id).first()
    if video is None:
        raise video_not_found(video_id)
    if roll_faults:
        roll_request_faults(SimulatorProfile.for_snapshot(video.model))
    video.observe(_now(now))
    return video


def remix_video(
    *, source_id: str, fields: Mapping[str, Any], idempotency_key: str | None = None, now: dt.datetime | None = None
) -> tuple[SimulatedVideo, bool]:
    """A new job on the source's snapshot, seconds and size; the source must have completed."""
    now = _now(now)
    source = find_video(source_id, now=now, roll_faults=False)
    prompt = _read_prompt(fields.get("prompt"))
    if source.status != VideoStatus.COMPLETED:
        raise SimulatorError(
            400,
            f"Video '{source_id}' is {source.status}; only completed videos can be remixed.",
            code="video_not_ready",
        )
    spec = VideoSpec(
        requested_model=source.model,
        snapshot=source.model,
        prompt=prompt,
        seconds=source.seconds,
        size=source.size,
        remixed_from_video_id=source.video_id,
    )
    return create_video(spec=spec, idempotency_key=idempotency_key, now=now)


def delete_video(video_id: str, *, now: dt.datetime | None = None) -> dict:
    """Hide the video from the API; its row stays, so it still counts as a created job."""
    now = _now(now)
    video = find_video(video_id, now=now)
    video.deleted_at = now
    video.save(update_fields=["deleted_at"])
    return {"id": video.video_id, "object": "video.deleted", "deleted": True}


def _read_limit(value: str | int | None) -> int:
    if value in (None, ""):
        return DEFAULT_PAGE_SIZE
    text = str(value).strip()
    if not 1 <= (number_or_none(text) or 0) <= MAX_PAGE_SIZE:
        raise invalid_value("limit", f"Invalid value: '{value}'. limit must be an integer from 1 to {MAX_PAGE_SIZE}.")
    return int(text)


def list_videos(
    *,
    after: str | None = None,
    limit: str | int | None = None,
    order: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """One page of live videos, newest first unless `order=asc`, as OpenAI's cursor list."""
    now = _now(now)
    page_size = _read_limit(limit)
    order = order or "desc"
    if order not in ("asc", "desc"):
        raise invalid_value("order", f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.")
    videos = SimulatedVideo.objects.live().order_by("pk" if order == "asc" else "-pk")
    if after:
        cursor = None if "\x00" in after else SimulatedVideo.objects.live().filter(video_id=after).first()
        if cursor is None:
            raise video_not_found(after, param="after")
        videos = videos.filter(pk__gt=cursor.pk) if order == "asc" else videos.filter(pk__lt=cursor.pk)
    page = list(videos[: page_size + 1])
    has_more = len(page) > page_size
    page = page[:page_size]
    for video in page:
        video.observe(now)
    return {
        "object": "list",
        "data": [video.as_openai() for video in page],
        "first_id": page[0].video_id if page else None,
        "last_id": page[-1].video_id if page else None,
        "has_more": has_more,
    }


@functools.cache
def _asset_bytes(filename: str) -> bytes:
    return (ASSETS_DIR / filename).read_bytes()


def video_content(video_id: str, *, variant: str | None = None, now: dt.datetime | None = None) -> tuple[bytes, str]:
    """The bytes and content type of a completed video's variant."""
    variant = variant or "video"
    if variant not in CONTENT_VARIANTS:
        choices = ", ".join(f"'{name}'" for name in CONTENT_VARIANTS)
        raise invalid_value("variant", f"Invalid value: '{variant}'. Supported values are: {choices}.")
    video = find_video(video_id, now=now)
    if video.status != VideoStatus.COMPLETED:
        raise SimulatorError(
            400,
            f"Video '{video_id}' is {video.status}; content is available once it has completed.",
            code="video_not_ready",
        )
    filename, content_type = CONTENT_VARIANTS[variant]
    if variant == "spritesheet":
        return _asset_bytes(filename), content_type
    clip = render(
        snapshot=video.model, prompt=video.prompt, seed=render_seed(video), size=video.size, seconds=video.seconds
    )
    return (clip.video if variant == "video" else clip.thumbnail), content_type


def render_seed(video: SimulatedVideo) -> int:
    """A new job renders with seed 0; a remix, edit or extension with one drawn from its source, so it differs."""
    source = video.remixed_from_video_id or video.source_video_id
    if not source:
        return 0
    return int.from_bytes(hashlib.sha256(source.encode()).digest()[:4], "big")


def _model_object(name: str, api: str) -> dict:
    snapshot = ALL_SNAPSHOTS[MODEL_TABLES[api][name]]
    released = snapshot.released_on or dt.date(1970, 1, 1)
    return {
        "id": name,
        "object": "model",
        "created": int(dt.datetime.combine(released, dt.time(), tzinfo=dt.UTC).timestamp()),
        "owned_by": "simulator",
        "shutdown_date": snapshot.shutdown_on.isoformat() if snapshot.shutdown_on else None,
    }


def list_models(api: str = API_OPENAI) -> dict:
    """The API's models from its pack, with the listing changes stored in SimulatedModelListing applied."""
    entries = {name: _model_object(name, api) for name in MODEL_TABLES[api]}
    for listing in SimulatedModelListing.objects.all():
        if api != API_OPENAI and listing.name not in entries:
            continue  # a new model announced in the listing belongs to the Sora API
        entry = entries.setdefault(listing.name, {"id": listing.name, "object": "model", "owned_by": "simulator"})
        released = listing.released_on or (dt.date(1970, 1, 1) if "created" not in entry else None)
        if released:
            entry["created"] = int(dt.datetime.combine(released, dt.time(), tzinfo=dt.UTC).timestamp())
        if listing.shutdown_date:
            entry["shutdown_date"] = listing.shutdown_date.isoformat()
    return {"object": "list", "data": list(entries.values())}


def retrieve_model(name: str, api: str = API_OPENAI) -> dict:
    if name not in MODEL_TABLES[api]:
        raise SimulatorError(
            404,
            f"The model '{name}' does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    return _model_object(name, api)


def _snapshot_offering(model: Any, api: str, feature: str, default: str, words: str) -> str:
    snapshot = resolve_model(default if model in (None, "") else model, api)
    if feature not in ALL_SNAPSHOTS[snapshot].features:
        raise SimulatorError(400, f"{snapshot} does not support {words}.", code="unsupported_operation", param="model")
    return snapshot


def _read_source(fields: Mapping[str, Any], files: Mapping[str, UploadedFile], now: dt.datetime):
    """The source of an edit or extension: a completed video by id, or an uploaded MP4. Returns (video, upload)."""
    upload = files.get("video")
    if upload is not None:
        sniffed = sniff(upload)
        if sniffed is None or sniffed.content_type not in VIDEO_TYPES:
            raise invalid_value("video", "The source video must be an MP4 file.")
        return None, {"sha256": _sha256(upload), "seconds": sniffed.seconds}
    value = fields.get("video")
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise invalid_type("video", "an MP4 upload or an object with 'id'")
    source = find_video(value["id"], now=now, roll_faults=False)
    if source.status != VideoStatus.COMPLETED:
        raise SimulatorError(
            400,
            f"Video '{source.video_id}' is {source.status}; only completed videos can be used.",
            code="video_not_ready",
        )
    return source, None


def derive_video(
    *,
    operation: str,
    fields: Mapping[str, Any],
    files: Mapping[str, UploadedFile],
    api: str = API_OPENAI,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[SimulatedVideo, bool]:
    """An edit (same length) or an extension (the source plus a new segment; `seconds` is the stitched total)."""
    now = _now(now)
    prompt = _read_prompt(fields.get("prompt"))
    source, upload = _read_source(fields, files, now)
    feature, words = ("extensions", "extensions") if operation == "extend" else ("edits", "edits")
    default_model = source.model if source is not None else API_DEFAULT_MODELS[api]
    snapshot = _snapshot_offering(fields.get("model"), api, feature, default_model, words)
    if source is not None:
        seconds = source.seconds
    else:
        seconds = max(1, round(upload["seconds"])) if upload["seconds"] else int(DEFAULT_SECONDS)
    if operation == "extend":
        seconds_field = "duration" if api == API_LUMEN else "seconds"
        allowed = ALL_SNAPSHOTS[snapshot].extension_seconds
        segment = str(fields.get(seconds_field, "")).strip()
        if number_or_none(segment) not in allowed:
            choices = ", ".join(f"'{value}'" for value in allowed)
            raise invalid_value(
                seconds_field, f"Invalid value: '{segment}'. Supported extensions for {snapshot}: {choices}."
            )
        seconds += int(segment)
    spec = VideoSpec(
        requested_model=snapshot,
        snapshot=snapshot,
        prompt=prompt,
        seconds=seconds,
        size=source.size if source is not None else DEFAULT_SIZE,
        operation=operation,
        source_video_id=source.video_id if source is not None else "",
        source_sha256=upload["sha256"] if upload else "",
    )
    return create_video(spec=spec, idempotency_key=idempotency_key, now=now)


def create_character(
    *, fields: Mapping[str, Any], files: Mapping[str, UploadedFile], api: str = API_OPENAI, idempotency_key=None
) -> SimulatedCharacter:
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise SimulatorError(
            400, "Missing required parameter: 'name'.", code="missing_required_parameter", param="name"
        )
    upload = files.get("video")
    sniffed = sniff(upload) if upload is not None else None
    if sniffed is None or sniffed.content_type not in VIDEO_TYPES:
        raise invalid_value("video", "A character is made from an MP4 video upload.")
    snapshot = _snapshot_offering(fields.get("model"), api, "characters", API_DEFAULT_MODELS[api], "characters")
    if idempotency_key:
        existing = SimulatedCharacter.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    return SimulatedCharacter.objects.create(
        name=name, model=snapshot, video_sha256=_sha256(upload), idempotency_key=idempotency_key
    )


def find_character(character_id: str) -> SimulatedCharacter:
    character = SimulatedCharacter.objects.filter(character_id=character_id).first()
    if character is None:
        raise SimulatorError(404, f"Character '{character_id}' not found.", code="character_not_found")
    return character


# Result links: what a provider hands out for a finished file, signed and expiring.
_link_signer = signing.TimestampSigner(salt="simulator.result-link")


def result_link(request: HttpRequest, video: SimulatedVideo, variant: str = "video") -> tuple[str, dt.datetime]:
    """An absolute link to a completed video's file that stops working after SIMULATOR_LINK_SECONDS."""
    return result_link_at(request.build_absolute_uri("/"), video, variant)


def result_link_at(origin: str, video: SimulatedVideo, variant: str = "video") -> tuple[str, dt.datetime]:
    """The same link, on the server reached at `origin` (a callback is sent outside any request)."""
    token = _link_signer.sign(f"{video.video_id}:{variant}")
    url = origin.rstrip("/") + reverse("simulator-files:file", args=[token])
    return url, timezone.now() + dt.timedelta(seconds=settings.SIMULATOR_LINK_SECONDS)


def linked_content(token: str) -> tuple[bytes, str]:
    """The file a result link names, while the link is good; 403 once it has expired, as a storage bucket answers."""
    try:
        value = _link_signer.unsign(token, max_age=settings.SIMULATOR_LINK_SECONDS)
    except signing.SignatureExpired as error:
        raise SimulatorError(
            403, "Request has expired: the result link is no longer valid.", code="AccessDenied"
        ) from error
    except signing.BadSignature as error:
        raise SimulatorError(
            403, "The result link's signature does not match.", code="SignatureDoesNotMatch"
        ) from error
    video_id, _, variant = value.partition(":")
    return video_content(video_id, variant=variant)
