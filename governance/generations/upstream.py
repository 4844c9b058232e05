"""The HTTP side of calling a provider: one pooled httpx client per provider connection.

Adapters (`generations/providers/`) decide paths, bodies and how each provider spells its
errors; this module sends, times out, redacts secrets and turns transport failures into
`UpstreamError`. Every provider call goes through `transport`, the test seam.
"""

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import httpx

# Retried: rate limits, conflicts, timeouts and server errors. Anything else is final.
RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504}

# Codes the gateway gives provider failures of its own kinds, whatever the provider calls them.
CONTENT_FILTERED = "content_filtered"  # a provider's safety refusal: counted apart in usage and health gates
QUOTA_EXCEEDED = "quota_exceeded"  # the account's quota or credits ran out: shown in usage


class UpstreamError(Exception):
    """The provider refused or could not be reached; `retryable` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "upstream_error",
        retry_after: float | None = None,
        retryable: bool | None = None,
        outcome_unknown: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self._retryable = retryable
        # The request went out but its answer was lost (a read timeout, a dropped connection): the provider
        # may have acted on it. A create the provider cannot deduplicate is then not simply sent again.
        self.outcome_unknown = outcome_unknown

    @property
    def retryable(self) -> bool:
        if self._retryable is not None:
            return self._retryable
        return self.status is None or self.status in RETRYABLE_STATUSES


@dataclass(frozen=True)
class FilePart:
    """A file to upload: httpx reads `file` in chunks as it sends, so it is never held whole in memory."""

    field: str
    filename: str
    file: BinaryIO
    content_type: str


# Reads a provider's error response into an UpstreamError (status, code, message, retry delay).
ErrorReader = Callable[[httpx.Response, tuple[str, ...]], "UpstreamError"]


class UpstreamClient:
    """JSON calls to one provider at one base URL, with the provider's auth headers on every request."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        secrets: tuple[str, ...] = (),
        timeout: httpx.Timeout,
        read_error: ErrorReader | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.secrets = tuple(secret for secret in secrets if secret)
        self.read_error = read_error or openai_error
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"User-Agent": "snapshot-governance", **headers},
            timeout=timeout,
            transport=transport,
        )
        # Result links elsewhere (storage, CDNs) are fetched without the provider's credentials.
        self.links = httpx.Client(headers={"User-Agent": "snapshot-governance"}, timeout=timeout, transport=transport)

    def post(
        self, path: str, *, fields: dict, idempotency_key: str = "", files: list[FilePart] = (), params=None
    ) -> dict:
        """POST as JSON, or as multipart when files go along (nested values then travel as JSON text)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if not files:
            return self.call("POST", path, json=fields, headers=headers, params=params)
        form = {name: value if isinstance(value, str) else json.dumps(value) for name, value in fields.items()}
        parts = {part.field: (part.filename, part.file, part.content_type) for part in files}
        return self.call("POST", path, data=form, files=parts, headers=headers, params=params)

    def get(self, path: str, *, params=None) -> dict:
        return self.call("GET", path, params=params)

    def delete(self, path: str) -> dict:
        return self.call("DELETE", path)

    def call(self, method: str, path: str, **kwargs) -> dict:
        """One request; the JSON answer, or UpstreamError for a failure of any kind."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise self.transport_error(error) from error
        if response.status_code >= 400:
            raise self.read_error(response, self.secrets)
        try:
            return response.json() if response.content else {}
        except ValueError as error:
            raise UpstreamError("The provider answered with something that is not JSON.", status=502) from error

    @contextlib.contextmanager
    def stream(self, method: str, url: str, *, headers=None, params=None) -> Iterator[httpx.Response]:
        """A streamed response (a video); `url` is a path under the base URL or an absolute link.

        Redirects are followed here, hop by hop (download links often redirect to storage). Each hop
        decides afresh what goes with it: the provider's own auth headers only to the provider's origin,
        `headers` (given for the link) only to the link's origin, and nothing to any other origin.
        """
        origin = _origin(self.http.build_request(method, url).url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers=headers, params=params, link_origin=origin)
            if not response.is_redirect:
                break
            response.close()
            url, params = str(response.next_request.url), None
        else:
            raise UpstreamError(f"The provider's link redirected more than {MAX_REDIRECTS} times.", status=502)
        try:
            if response.status_code >= 400:
                response.read()
                raise self.read_error(response, self.secrets)
            yield response
        finally:
            response.close()

    def _send(self, method: str, url: str, *, headers, params, link_origin: tuple) -> httpx.Response:
        http = self.http if self._same_origin(url) else self.links
        request = http.build_request(method, url, params=params)
        if headers and _origin(request.url) == link_origin:
            request.headers.update(headers)
        try:
            return http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self.transport_error(error) from error

    def redact(self, text: str) -> str:
        """Text from the provider, fit to keep and show: see `without_secrets`."""
        return without_secrets(text, *self.secrets)

    def transport_error(self, error: httpx.HTTPError) -> "UpstreamError":
        return transport_error(error, self.secrets)

    def _same_origin(self, url: str) -> bool:
        link = httpx.URL(url)
        return not link.is_absolute_url or _origin(link) == _origin(self.http.base_url)


MAX_REDIRECTS = 5


def _origin(url: httpx.URL) -> tuple:
    return (url.scheme, url.host, url.port)


# The request never left: nothing can have been created at the provider.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(error: Exception, secrets: tuple[str, ...] = ()) -> UpstreamError:
    """A failure to talk to the provider as UpstreamError (retryable), saying whether the request may have
    reached it (`outcome_unknown`): anything after the connection was made, such as a read timeout."""
    unknown = not isinstance(error, NEVER_SENT)
    if isinstance(error, httpx.TimeoutException):
        message = f"The provider did not answer in time ({type(error).__name__})."
    else:
        message = f"The provider could not be reached: {without_secrets(str(error), *secrets)}"
    return UpstreamError(message, outcome_unknown=unknown)


def openai_error(response: httpx.Response, secrets: tuple[str, ...]) -> UpstreamError:
    """OpenAI's error shape, `{"error": {"message", "type", "code", "param"}}`, which many providers share."""
    code, message = "upstream_error", f"The provider answered HTTP {response.status_code}."
    try:
        error = response.json().get("error") or {}
        if isinstance(error, str):
            error = {"message": error}
        code = str(error.get("code") or code)[:64]
        message = str(error.get("message") or message)[:1000]
    except (ValueError, AttributeError):
        pass
    return upstream_error(response, message, code, secrets)


def upstream_error(response: httpx.Response, message: str, code: str, secrets: tuple[str, ...]) -> UpstreamError:
    """An UpstreamError for a provider's error answer: the message redacted, quota and retry delay read."""
    if response.status_code == 429 and "quota" in message.lower():
        code = QUOTA_EXCEEDED if code in ("upstream_error", "rate_limit_exceeded", "RESOURCE_EXHAUSTED") else code
    return UpstreamError(
        without_secrets(message, *secrets),
        status=response.status_code,
        code=code,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


SECRET_SHAPES = re.compile(r"\b(sk|sgk|rk|key|xai)[-_][A-Za-z0-9_*.-]{6,}|\bAIza[0-9A-Za-z_-]{20,}|\bya29\.[\w.-]+")


def without_secrets(text: str, *secrets: str) -> str:
    """A provider's error text, minus the given secrets (the provider's own key, whatever its shape, which
    some providers echo back) and anything shaped like an API key or an OAuth token."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key redacted]")
    return SECRET_SHAPES.sub("[key redacted]", text)


def retry_after_seconds(value: str | float | None) -> float | None:
    """A retry delay in seconds from a Retry-After header or a provider's `retryDelay` ("3s", "1.5s")."""
    if value is None or value == "":
        return None
    try:
        return max(0.0, float(str(value).strip().removesuffix("s")))
    except ValueError:
        return None


_clients: dict[tuple, UpstreamClient] = {}
_clients_lock = threading.Lock()

# The httpx transport every provider client is made with; None is httpx's own, over the network. Tests and
# benchmarks set it to reach the simulator in-process (or a stand-in provider); clients are pooled per transport.
transport: httpx.BaseTransport | None = None


def pooled_client(
    *,
    base_url: str,
    headers: Mapping[str, str],
    secrets: tuple[str, ...] = (),
    timeout: httpx.Timeout,
    read_error: ErrorReader | None = None,
) -> UpstreamClient:
    """One client per base URL, headers, timeout, error reader and transport, per process."""
    key = (base_url, tuple(sorted(headers.items())), secrets, repr(timeout), read_error, id(transport))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = UpstreamClient(
                base_url=base_url,
                headers=headers,
                secrets=secrets,
                timeout=timeout,
                read_error=read_error,
                transport=transport,
            )
        return _clients[key]


def http_client(**kwargs) -> httpx.Client:
    """A plain httpx client over the same transport, for an SDK that takes one (`http_client=`)."""
    return httpx.Client(transport=transport, **kwargs)
