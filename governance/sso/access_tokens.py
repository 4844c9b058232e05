"""A signed-in user's access token, kept only while it lasts, so the recheck can ask the provider about them.

Never in the database: in the shared cache (Redis, or the data directory's cache), encrypted with
Fernet under a key derived from SECRET_KEY (as webhook secrets are, governance.lifecycle.signing),
and expiring when the token does. No refresh token is asked for or kept, so once the token has
expired the provider can be asked again only when the user signs in again.
"""

from cryptography.fernet import InvalidToken, MultiFernet
from django.core.cache import cache

from governance.lib.secret_keys import fernet_for

# A token is put away this much before the provider says it expires, so a recheck never presents an expired one.
EXPIRY_MARGIN_SECONDS = 30
# A provider that does not say how long its token lasts: assume no more than this.
UNSTATED_LIFETIME_SECONDS = 300


def _key(identity_id: int) -> str:
    return f"sso-access-token:{identity_id}"


def _fernet() -> MultiFernet:
    return fernet_for(b"governance sso access tokens")


def remember(*, identity_id: int, access_token: str, expires_in: int | None) -> None:
    lifetime = int(expires_in) if expires_in else UNSTATED_LIFETIME_SECONDS
    seconds = lifetime - EXPIRY_MARGIN_SECONDS
    if seconds > 0:
        cache.set(_key(identity_id), _fernet().encrypt(access_token.encode()).decode(), timeout=seconds)


def recall(*, identity_id: int) -> str | None:
    """The user's access token while it lasts, or None (expired, never kept, or under another SECRET_KEY)."""
    sealed = cache.get(_key(identity_id))
    if not sealed:
        return None
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def forget(*, identity_id: int) -> None:
    cache.delete(_key(identity_id))
