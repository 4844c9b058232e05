"""Webhook secrets and signatures, in the Standard Webhooks style (standardwebhooks.com).

A secret is `whsec_` + base64 of 24 random bytes. Each delivery carries
`webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body" keyed with the secret's bytes>`.

We must sign with the secret, so it cannot be stored as a one-way hash. It is
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from SECRET_KEY by HKDF; SECRET_KEY_FALLBACKS still decrypt, so rotating
SECRET_KEY keeps the webhooks working. A database dump alone reveals no secret.
A Slack or Teams destination's URL is a secret too (it is all a sender needs), so
it is encrypted the same way and shown only masked (`masked_url`).
"""

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken, MultiFernet

from governance.lib.secret_keys import fernet_for

SECRET_PREFIX = "whsec_"
SHOWN_URL_ENDING = 4


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a SECRET_KEY this server no longer has."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _fernet() -> MultiFernet:
    return fernet_for(b"governance webhook secrets")


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("The webhook's secret cannot be read with this server's SECRET_KEY.") from error


def masked_url(url: str) -> str:
    """All of a secret URL that may be shown: scheme, host and its last few characters, to tell two apart."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…{url[-SHOWN_URL_ENDING:]}"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret: str, headers, body: bytes) -> bool:
    """What a receiver does: recompute the signature and compare in constant time (any of the listed ones)."""
    expected = signature(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in headers["webhook-signature"].split())
