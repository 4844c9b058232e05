"""No secret ever appears in a log line, a page, a response or an export.

An API key is created and used, errors are provoked, every page an admin and an
auditor can open is rendered, both exports run from the command line and the
Audit page; the raw key and SECRET_KEY must appear nowhere.
"""

import io
import logging
import re

import httpx
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from governance.generations import worker
from governance.generations.models import Generation
from governance.lifecycle.services import attempt_delivery, enqueue_webhooks
from governance.projects.models import AUDITOR_GROUP, Project, Role
from tests.factories import OLD, make_api_key, make_environment, make_member, make_project, make_user
from tests.generations.conftest import Api
from tests.upstream_transport import use_transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def raw_key():
    environment = make_environment(make_project("shop"), "production", allowed_snapshots=[OLD], alias_requests="refuse")
    return make_api_key(environment)


def text_of(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    return headers + "\n" + body.decode(errors="replace")


def use_the_gateway(raw_key: str) -> list[str]:
    api, seen = Api(raw_key), []
    seen.append(text_of(api.post("videos", {"prompt": "a cat", "model": OLD, "seconds": "4"})))
    seen.append(text_of(api.post("videos", {"prompt": "a cat", "model": "sora-2"})))  # refused
    seen.append(text_of(api.client.post("/v1/videos", "{not json", content_type="application/json")))
    seen.append(text_of(api.get("videos")))
    seen.append(text_of(api.get("videos/video_00000000000000000000000000000000")))
    seen.append(text_of(Api(raw_key + "x").get("models")))  # a wrong key that contains the real one
    seen.append(text_of(Api(raw_key[:-1]).get("models")))
    seen.append(text_of(Client().get("/v1/nowhere", HTTP_AUTHORIZATION=f"Bearer {raw_key}")))
    return seen


def the_upstream_fails_echoing_the_key(raw_key: str) -> None:
    """A provider that echoes the credentials it was sent in its error text, as some do on a 401."""
    echo = httpx.MockTransport(lambda request: httpx.Response(401, json={"error": {"message": f"bad key {raw_key}"}}))
    with use_transport(echo):
        for generation in Generation.objects.unfinished():
            worker.advance(generation.pk)


def every_page(user) -> list[str]:
    client = Client()
    client.force_login(user)
    pages = ["/", "/generations/?project=shop", "/audit/", "/admin/", "/admin/projects/apikey/"]
    pages += [f"/generations/{generation.video_id}/" for generation in Generation.objects.all()]
    seen = [text_of(client.get(page)) for page in pages]
    for kind in ("generations", "audit"):
        for file_format in ("csv", "jsonl"):
            export = client.post(f"/audit/export/{kind}/", {f"{kind}-format": file_format})
            assert export.status_code == 200
            seen.append(text_of(export))
    seen.append(text_of(client.get("/metrics")))
    return seen


def command_exports(folder) -> list[str]:
    seen = []
    for command in ("export_generations", "export_audit"):
        for file_format in ("csv", "jsonl"):
            output, err = folder / f"{command}.{file_format}", io.StringIO()
            call_command(command, "--format", file_format, "--output", str(output), stdout=err, stderr=err)
            manifest = output.with_name(output.name + ".manifest.json")
            seen += [output.read_text(), manifest.read_text(), err.getvalue()]
    return seen


def test_no_key_or_secret_key_in_logs_pages_responses_or_exports(raw_key, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    superuser = make_user("root", is_staff=True, is_superuser=True)
    auditor = make_user("auditor")
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    make_member(Project.objects.get(slug="shop"), Role.ADMIN)

    seen = use_the_gateway(raw_key)
    the_upstream_fails_echoing_the_key(raw_key)
    seen += every_page(superuser) + every_page(auditor) + command_exports(tmp_path)
    seen += [caplog.text] + [str(record.__dict__) for record in caplog.records]

    everything = "\n".join(seen)
    assert raw_key[:12] in everything  # the key's visible prefix is shown, so the pages really were about it
    assert "[key redacted]" in everything  # the provider's echo reached the log and the exports, redacted
    assert raw_key not in everything
    assert raw_key[12:] not in everything  # not even the part after the visible prefix
    assert settings.SECRET_KEY not in everything


def every_row_as_text() -> str:
    return "\n".join(
        repr(row) for model in apps.get_models() for row in model._base_manager.values_list() if model is not Session
    )


def test_a_webhook_secret_is_shown_once_and_kept_nowhere_in_plain_text(settings, caplog, tmp_path):
    """Not in the database, a log line, a later page, the delivery log, an audit event or an export."""
    caplog.set_level(logging.DEBUG)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    project = make_project("shop")
    admin = make_member(project, Role.ADMIN)
    client = Client()
    client.force_login(admin)

    created = client.post("/projects/shop/webhooks/", {"url": "https://hooks.example.com/in", "description": "ci"})
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.content.decode()).group(0)
    key = secret.removeprefix("whsec_")
    delivery = enqueue_webhooks(project, "snapshot.shutdown_alert", {"snapshot": OLD})[0]
    attempt_delivery(delivery.pk, transport=httpx.MockTransport(lambda request: httpx.Response(500)))

    superuser = make_user("root", is_staff=True, is_superuser=True)
    seen = [every_row_as_text(), caplog.text, text_of(client.get("/projects/shop/webhooks/"))]
    seen += every_page(superuser) + command_exports(tmp_path)
    seen += [text_of(client.get(f"/admin/lifecycle/webhook/{delivery.webhook_id}/change/"))]

    everything = "\n".join(seen)
    assert "hooks.example.com" in everything  # the pages and rows really were about the webhook
    assert secret not in everything
    assert key not in everything
