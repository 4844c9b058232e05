from dataclasses import dataclass

from governance.infra.caching import remembered
from governance.projects.models import ApiKey, hash_api_key


@dataclass(frozen=True)
class KeyHolder:
    """What the gateway needs to know about the caller, kept in memory."""

    api_key_id: int
    prefix: str
    environment_id: int
    environment_name: str
    project_id: int
    project_slug: str
    rate_limit_per_minute: int


def _load_key_holder(key_hash: str) -> KeyHolder | None:
    api_key = ApiKey.objects.active().select_related("environment__project").filter(key_hash=key_hash).first()
    if api_key is None:
        return None
    return KeyHolder(
        api_key_id=api_key.pk,
        prefix=api_key.prefix,
        environment_id=api_key.environment_id,
        environment_name=api_key.environment.name,
        project_id=api_key.environment.project_id,
        project_slug=api_key.environment.project.slug,
        rate_limit_per_minute=api_key.environment.rate_limit_per_minute,
    )


def key_holder(raw_key: str) -> KeyHolder | None:
    """The active key matching a raw bearer token, or None.

    Only keys that exist are remembered, so random tokens cannot fill the memory.
    """
    key_hash = hash_api_key(raw_key)
    return remembered(("api_key", key_hash), lambda: _load_key_holder(key_hash), keep_none=False)
