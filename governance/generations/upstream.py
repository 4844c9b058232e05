"""The httpx client for an OpenAI-compatible Videos API (OpenAI, a reseller, or our simulator)."""

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import httpx

from governance.catalog.models import Provider

RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class UpstreamError(Exception):
    """The provider refused or could not be reached; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "upstream_error", retry_after=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES


@dataclass(frozen=True)
class FilePart:
    """A file to upload: httpx reads `file` in chunks as it sends, so it is never held whole in memory."""

    field: str
    filename: str
    file: BinaryIO
    content_type: str


class UpstreamClient:
    def __init__(self, provider: Provider, transport: httpx.BaseTransport | None = None):
        headers = {"User-Agent": "snapshot-governance"}
        api_key = provider_api_key(provider)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.secrets = (api_key,) if api_key else ()
        self.http = httpx.Client(
            base_url=provider.resolved_base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(provider.read_timeout, connect=provider.connect_timeout),
            transport=transport,
        )

    def post(self, path: str, *, fields: dict, idempotency_key: str, files: list[FilePart] = ()) -> dict:
        """POST as JSON, or as multipart when files go along (nested values then travel as JSON text)."""
        headers = {"Idempotency-Key": idempotency_key}
        if not files:
            return self._call("POST", path, json=fields, headers=headers)
        form = {name: value if isinstance(value, str) else json.dumps(value) for name, value in fields.items()}
        parts = {part.field: (part.filename, part.file, part.content_type) for part in files}
        return self._call("POST", path, data=form, files=parts, headers=headers)

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def retrieve_video(self, upstream_id: str) -> dict:
        return self._call("GET", f"videos/{upstream_id}")

    def delete_video(self, upstream_id: str) -> dict:
        return self._call("DELETE", f"videos/{upstream_id}")

    @contextlib.contextmanager
    def stream_content(self, upstream_id: str, variant: str) -> Iterator[httpx.Response]:
        request = self.http.build_request("GET", f"videos/{upstream_id}/content", params={"variant": variant})
        try:
            response = self.http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise UpstreamError(f"The provider could not be reached: {self.redact(str(error))}") from error
        try:
            if response.status_code >= 400:
                response.read()
                raise _error_from(response, self.secrets)
            yield response
        finally:
            response.close()

    def redact(self, text: str) -> str:
        """Text from the provider, fit to keep and show: see `without_secrets`."""
        return without_secrets(text, *self.secrets)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise UpstreamError(f"The provider did not answer in time ({type(error).__name__}).") from error
        except httpx.HTTPError as error:
            raise UpstreamError(f"The provider could not be reached: {self.redact(str(error))}") from error
        if response.status_code >= 400:
            raise _error_from(response, self.secrets)
        try:
            return response.json()
        except ValueError as error:
            raise UpstreamError("The provider answered with something that is not JSON.", status=502) from error


def _error_from(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    code, message = "upstream_error", f"The provider answered HTTP {response.status_code}."
    try:
        error = response.json().get("error") or {}
        code = str(error.get("code") or code)[:64]
        message = without_secrets(str(error.get("message") or message)[:1000], *secrets)
    except (ValueError, AttributeError):
        pass
    return UpstreamError(
        message, status=response.status_code, code=code, retry_after=_retry_after(response.headers.get("Retry-After"))
    )


SECRET_SHAPES = re.compile(r"\b(sk|sgk|rk)[-_][A-Za-z0-9_*.-]{6,}")


def without_secrets(text: str, *secrets: str) -> str:
    """A provider's error text, minus the given secrets (the provider's own key, whatever its shape, which
    some providers echo back) and anything shaped like an API key (OpenAI echoes a masked key on a 401)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key redacted]")
    return SECRET_SHAPES.sub("[key redacted]", text)


def provider_api_key(provider: Provider) -> str:
    """The provider's key, read from the environment variable it names; never stored."""
    return os.environ.get(provider.api_key_env_var, "") if provider.api_key_env_var else ""


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


_clients: dict[tuple, UpstreamClient] = {}
_clients_lock = threading.Lock()

# The httpx transport every provider client is made with; None is httpx's own, over the network. Tests and
# benchmarks set it to reach the simulator in-process (or a stand-in provider); clients are pooled per transport.
transport: httpx.BaseTransport | None = None


def client_for(provider: Provider) -> UpstreamClient:
    """One pooled client per provider configuration, transport and process."""
    key = (provider.pk, provider.resolved_base_url, provider.api_key_env_var, provider.read_timeout, id(transport))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = UpstreamClient(provider, transport=transport)
        return _clients[key]
