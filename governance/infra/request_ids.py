"""A request id on every log line: taken from X-Request-ID or made here, and carried into the worker.

The id lives in a context variable, so a log line written anywhere while a request
(or a worker step for a generation) is handled carries it without being passed along.
"""

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain, so it cannot forge or break a log line.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NO_REQUEST_ID = "-"

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_or_new(incoming: str | None) -> str:
    if incoming and ACCEPTED_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


@contextlib.contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    """Bind the request's id for everything the request does, and answer with it.

    The id stays bound until the response is closed (`request_finished`), so Django's own
    log line for an error answer and a streamed body's log lines carry it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = accepted_or_new(request.headers.get(HEADER))
        _request_id.set(request.request_id)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response


@receiver(request_finished, dispatch_uid="forget-request-id")
def forget_request_id(**kwargs) -> None:
    _request_id.set("")


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id` attribute, for plain and JSON formats alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or NO_REQUEST_ID
        return True
