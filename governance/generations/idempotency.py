"""Idempotency-Keys: a client's retry of the same request gets the same generation, never a second one."""

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.generations.errors import ApiError
from governance.generations.models import Generation, IdempotencyRecord
from governance.projects.selectors import KeyHolder

# An Idempotency-Key whose first request never finished (the process died) is taken over after this.
ABANDONED_IDEMPOTENCY_AFTER = dt.timedelta(seconds=60)


def submit_idempotently(
    *, holder: KeyHolder, key: str | None, fingerprint: str, submit_once: Callable[[], Generation]
) -> Generation:
    """Run `submit_once` at most once per (API key, Idempotency-Key).

    A retry with the same body gets the same generation; a different body is a
    422; a retry while the first request is still being handled is a 409.
    """
    if not key:
        return submit_once()
    if len(key) > 255:
        raise ApiError("invalid_value", "The Idempotency-Key header is longer than 255 characters.", "Idempotency-Key")
    record = _claim(holder, key, fingerprint)
    if record.generation_id is not None:
        return record.generation
    try:
        with transaction.atomic():
            generation = submit_once()
            # Conditional on our claim, so a request that took over an abandoned key wins alone.
            kept = IdempotencyRecord.objects.filter(
                pk=record.pk, created_at=record.created_at, generation__isnull=True
            ).update(generation=generation)
            if not kept:
                raise _in_flight()
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at, generation__isnull=True).delete()
        raise
    return generation


def _claim(holder: KeyHolder, key: str, fingerprint: str) -> IdempotencyRecord:
    for _ in range(3):  # the record may vanish between our insert and read, when its first request failed
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key_id=holder.api_key_id, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            pass
        existing = (
            IdempotencyRecord.objects.select_related("generation").filter(api_key_id=holder.api_key_id, key=key).first()
        )
        if existing is not None:
            return _existing_claim(existing, fingerprint)
    raise _in_flight()


def _existing_claim(existing: IdempotencyRecord, fingerprint: str) -> IdempotencyRecord:
    if existing.request_fingerprint != fingerprint:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
            "Idempotency-Key",
        )
    if existing.generation_id is None:
        taken_over = timezone.now()
        abandoned = IdempotencyRecord.objects.filter(
            pk=existing.pk, generation__isnull=True, created_at=existing.created_at
        ).filter(created_at__lt=taken_over - ABANDONED_IDEMPOTENCY_AFTER)
        if not abandoned.update(created_at=taken_over):
            raise _in_flight()
        existing.created_at = taken_over
    return existing


def _in_flight() -> ApiError:
    return ApiError(
        "idempotency_request_in_flight",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        "Idempotency-Key",
    )


def expire_idempotency_keys(*, now: dt.datetime | None = None) -> int:
    """Forget Idempotency-Keys after IDEMPOTENCY_KEY_HOURS; the generations they made stay."""
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
