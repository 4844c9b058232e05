"""The audit signing key: an Ed25519 private key in a file the application reads, never in the database.

`AUDIT_SIGNING_KEY_FILE` names the file. Left unset, the key lives under the data directory and
is made on first use, as a development key is (`make run`, the tests, the benches). A
production deployment mounts its own key there and sets the variable; every process that
appends to the chain must read the same key.
"""

import logging
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.audit import proofs

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[Path, Ed25519PrivateKey] = {}


def signing_key() -> Ed25519PrivateKey:
    """The configured key, read once per process (and made first, where no key was configured)."""
    path = Path(settings.AUDIT_SIGNING_KEY_FILE)
    with _lock:
        if path not in _loaded:
            if settings.AUDIT_SIGNING_KEY_MADE_ON_FIRST_USE and create_signing_key(path):
                logger.warning("made a development audit signing key at %s", path)
            _loaded[path] = read_signing_key(path)
        return _loaded[path]


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_pem() -> str:
    return proofs.public_key_pem(public_key())


def create_signing_key(path: Path) -> bool:
    """Write a new key to `path`, readable by its owner only; False when a key is there already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    return True


def read_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"The audit signing key {path} (AUDIT_SIGNING_KEY_FILE) does not exist; no audit event can be "
            "recorded without it. Mount the key there, or run `python manage.py create_audit_signing_key`."
        ) from None
    except (OSError, ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"The audit signing key {path} cannot be read: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"The audit signing key {path} is not an Ed25519 private key.")
    return key


def forget_loaded_keys() -> None:
    """Read the key file again on next use (tests that point AUDIT_SIGNING_KEY_FILE elsewhere call it)."""
    with _lock:
        _loaded.clear()
