"""Encryption keys derived from SECRET_KEY, one per purpose, for secrets we must read back but never store plainly.

HKDF-SHA256 over SECRET_KEY with the purpose as its info gives each purpose its own Fernet key;
SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY loses nothing.
"""

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def fernet_for(purpose: bytes) -> MultiFernet:
    """Encrypts with SECRET_KEY's key for `purpose`; decrypts with it or any fallback's."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(secret_key, purpose) for secret_key in keys])


def _fernet(secret_key: str, purpose: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))
