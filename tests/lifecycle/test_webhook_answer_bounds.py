"""A receiver cannot hold a worker or fill its memory: an attempt reads at most 64 KiB and ends on time."""

import ipaddress
import socketserver
import threading
import time
import tracemalloc

import pytest

from governance.lifecycle.models import WebhookDelivery
from governance.lifecycle.services import attempt_delivery, create_webhook
from tests.factories import SYSTEM, make_project

pytestmark = pytest.mark.django_db

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"


class AnsweringReceiver:
    """A real socket server that reads the request, then sends `answer` piece by piece, `pause` seconds apart.

    It stops when the pieces run out or the caller hangs up, and counts the bytes it got to send.
    """

    def __init__(self, answer, pause: float = 0.0):
        self.sent = 0
        self.hung_up = threading.Event()
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.recv(65536)  # the delivery's headers and small JSON body arrive at once
                try:
                    for piece in answer():
                        self.request.sendall(piece)
                        receiver.sent += len(piece)
                        time.sleep(pause)
                except OSError:  # the delivery stopped reading and closed the connection
                    pass
                receiver.hung_up.set()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/lifecycle"

    def __enter__(self) -> "AnsweringReceiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def trickled_headers():
    yield HEADERS
    for _ in range(60):  # a header line one byte at a time, never finished in time
        yield b"x"


def trickled_body():
    yield HEADERS + b"Content-Length: 1000\r\n\r\n"
    for _ in range(1000):
        yield b"."


def huge_body(size: int = 64 * 1024 * 1024):
    def answer():
        yield HEADERS + f"Content-Length: {size}\r\n\r\n".encode()
        piece = b"." * 65536
        for _ in range(size // len(piece)):
            yield piece

    return answer


@pytest.fixture(params=["private networks allowed", "public addresses only"])
def receiving_on_loopback(request, settings, monkeypatch):
    """The test's receiver listens on loopback: allowed by the setting, or (the default path) taken as public."""
    if request.param == "private networks allowed":
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    else:
        monkeypatch.setattr(ipaddress.IPv4Address, "is_global", property(lambda address: True))


def delivery_to(url: str) -> WebhookDelivery:
    webhook, _ = create_webhook(project=make_project(), url=url, description="", actor=SYSTEM)
    return WebhookDelivery.objects.create(webhook=webhook, event_type="test", payload={"x": 1})


def timed_attempt(delivery: WebhookDelivery) -> float:
    started = time.monotonic()
    attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    return time.monotonic() - started


def test_a_receiver_trickling_its_answer_cannot_hold_the_attempt_past_its_deadline(receiving_on_loopback, settings):
    settings.WEBHOOK_ATTEMPT_SECONDS = 1
    with AnsweringReceiver(trickled_headers, pause=0.1) as receiver:
        delivery = delivery_to(receiver.url)

        took = timed_attempt(delivery)

    assert took < 2.5  # a byte every 0.1 s would have kept the old per-read timeout waiting for 6 s
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.last_error == "The endpoint did not answer within 1 s."
    assert delivery.next_attempt_at is not None  # retried later, as any endpoint that did not answer


def test_a_status_that_arrived_in_time_counts_however_slowly_the_body_follows(receiving_on_loopback, settings):
    settings.WEBHOOK_ATTEMPT_SECONDS = 1
    with AnsweringReceiver(trickled_body, pause=0.01) as receiver:
        delivery = delivery_to(receiver.url)

        took = timed_attempt(delivery)

    assert took < 2.5
    assert (delivery.status, delivery.response_status) == ("delivered", 200)


def test_a_huge_answer_is_left_unread_after_its_first_64_kib(receiving_on_loopback):
    with AnsweringReceiver(huge_body()) as receiver:
        delivery = delivery_to(receiver.url)
        tracemalloc.start()
        try:
            timed_attempt(delivery)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert receiver.hung_up.wait(10)

    assert (delivery.status, delivery.response_status) == ("delivered", 200)
    assert peak < 4 * 1024 * 1024  # reading all of it took 64 MiB and more
    assert receiver.sent < 16 * 1024 * 1024  # what the sockets' buffers took before the delivery hung up
