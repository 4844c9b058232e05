"""Letting one request of an API key in, the same for the API and the playground: its per-minute limit and last use."""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from governance.generations.ratelimit import seconds_until_allowed, window_counter
from governance.infra.caching import one_state_read
from governance.projects.selectors import KeyHolder, key_holder, known_key_id
from governance.projects.services import note_api_key_use

LAST_USED_EVERY_SECONDS = 60
LAST_USED_KEYS_REMEMBERED = 10_000
_last_used_written: dict[int, float] = {}


@dataclass(frozen=True)
class Admission:
    holder: KeyHolder | None  # None: no active key of ours
    retry_after: int | None = None  # the seconds until the key may retry, when it is over its limit


@contextlib.contextmanager
def api_request_admission(token: str) -> Iterator[Admission]:
    """Read the governance state once for an API request, within which the request is handled, and let its key in.

    Once this process has seen the key, its count for the rate limit goes with the state token's read: one
    Redis command for both instead of two round trips. A count taken for a key found revoked is never used.
    """
    now = time.time()
    known_id = known_key_id(token) if token else None
    counting = window_counter(api_key_id=known_id, now=now) if known_id else None
    with one_state_read(counting=counting) as count:
        holder = key_holder(token) if token else None
        if holder is None:
            yield Admission(holder=None)
            return
        counted = count if holder.api_key_id == known_id else None
        yield Admission(holder=holder, retry_after=admit(holder, counted=counted, now=now))


def admit(holder: KeyHolder, *, counted: int | None = None, now: float | None = None) -> int | None:
    """Count one request of the key against its limit: None if it may go on, else the seconds until it may retry.

    `counted` is the request's count if the gateway already took it at `now` (with the state token's read).
    A request let in notes the key's use; one refused is neither parsed nor logged, so a flood cannot fill the
    generation log.
    """
    retry_after = seconds_until_allowed(
        api_key_id=holder.api_key_id, per_minute=holder.rate_limit_per_minute, now=now, counted=counted
    )
    if retry_after is None:
        _note_key_use(holder.api_key_id)
    return retry_after


def _note_key_use(api_key_id: int) -> None:
    """Keep `last_used_at` roughly current without a write on every request.

    Forgetting is harmless (the next request writes once more), so a full memory is simply cleared.
    """
    now = time.monotonic()
    if now - _last_used_written.get(api_key_id, -LAST_USED_EVERY_SECONDS) >= LAST_USED_EVERY_SECONDS:
        if len(_last_used_written) >= LAST_USED_KEYS_REMEMBERED:
            _last_used_written.clear()
        _last_used_written[api_key_id] = now
        note_api_key_use(api_key_id=api_key_id)
