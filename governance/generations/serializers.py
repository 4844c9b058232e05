"""OpenAI's shapes, exactly; our own facts travel in headers."""

import datetime as dt
from email.utils import format_datetime

from governance.catalog.values import SnapshotInfo
from governance.generations.models import Character, Generation


def unix(moment: dt.datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def video_object(generation: Generation) -> dict:
    error = None
    if generation.status == Generation.Status.FAILED:
        error = {"code": generation.error_code, "message": generation.error_message}
    return {
        "id": generation.video_id,
        "object": "video",
        "model": generation.resolved_snapshot,
        "status": generation.status,
        "progress": generation.progress,
        "created_at": unix(generation.created_at),
        "completed_at": unix(generation.completed_at),
        "expires_at": unix(generation.expires_at),
        "prompt": generation.prompt,
        "seconds": str(generation.seconds) if generation.seconds is not None else None,
        "size": generation.size,
        "remixed_from_video_id": _remixed_from(generation),
        "error": error,
    }


def _remixed_from(generation: Generation) -> str | None:
    """Only a remix names its source here; edits and extensions keep theirs in the log."""
    if generation.operation != Generation.Operation.REMIX or not generation.remixed_from_id:
        return None
    return generation.remixed_from.video_id


def character_object(character: Character) -> dict:
    return {"id": character.character_id, "name": character.name, "created_at": unix(character.created_at)}


def model_object(name: str, snapshot: SnapshotInfo, owned_by: str) -> dict:
    """A model as OpenAI lists it; an alias is listed with the snapshot it resolves to here."""
    released = snapshot.released_on
    return {
        "id": name,
        "object": "model",
        "created": int(dt.datetime.combine(released, dt.time(), tzinfo=dt.UTC).timestamp()) if released else 0,
        "owned_by": owned_by,
        "shutdown_date": snapshot.shutdown_on.isoformat() if snapshot.shutdown_on else None,
    }


def deprecation_headers(deprecated_on: dt.date | None, shutdown_on: dt.date | None, replacement: str | None) -> dict:
    """`Deprecation` (RFC 9745) and `Sunset` (RFC 8594) for a snapshot on its way out."""
    headers = {}
    if deprecated_on:
        headers["Deprecation"] = f"@{int(dt.datetime.combine(deprecated_on, dt.time(), tzinfo=dt.UTC).timestamp())}"
    if shutdown_on:
        headers["Sunset"] = format_datetime(dt.datetime.combine(shutdown_on, dt.time(), tzinfo=dt.UTC), usegmt=True)
    if replacement:
        headers["Link"] = f'</v1/models/{replacement}>; rel="successor-version"'
    return headers
