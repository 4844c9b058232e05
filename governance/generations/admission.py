"""Letting one request of an API key in, the same for the API and the playground: its per-minute limit and last use."""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from governance.generations.ratelimit import seconds_until_allowed
from governance.infra.caching import one_state_read
from governance.projects.selectors import KeyHolder, key_holder
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
    """Read the governance state once for an API request, within which the request is handled, and let its key in."""
    with one_state_read():
        holder = key_holder(token) if token else None
        if holder is None:
            yield Admission(holder=None)
            return
        yield Admission(holder=holder, retry_after=admit(holder))


def admit(holder: KeyHolder) -> int | None:
    """Count one request of the key against its limit: None if it may go on, else the seconds until it may retry.

    A request let in notes the key's use; one refused is neither parsed nor logged, so a flood cannot fill the
    generation log.
    """
    retry_after = seconds_until_allowed(api_key_id=holder.api_key_id, per_minute=holder.rate_limit_per_minute)
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
