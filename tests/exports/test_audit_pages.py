"""The Audit page: who may use it, verification on request, exports streamed to the browser and their manifests."""

import csv
import hashlib
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import StreamingHttpResponse
from django.urls import reverse

from governance.audit import checkpoints, keys, proofs
from governance.audit.models import AuditEvent
from governance.audit.verification import verify_chain
from governance.exports import views as audit_views
from governance.projects.models import AUDITOR_GROUP, Role
from tests.audit_tampering import as_database_superuser
from tests.dashboard.builders import make_generation
from tests.factories import make_environment, make_member, make_project, make_user

pytestmark = pytest.mark.django_db

AUDIT = reverse("exports:audit")
VERIFY = reverse("exports:audit_verify")
EXPORT_GENERATIONS = reverse("exports:audit_export", args=["generations"])
EXPORT_AUDIT = reverse("exports:audit_export", args=["audit"])


@pytest.fixture
def projects():
    alpha, beta = make_project("alpha"), make_project("beta")
    for project in (alpha, beta):
        environment = make_environment(project)
        for number in range(3):
            make_generation(environment, prompt=f"{project.slug} prompt {number}")
    return alpha, beta


def auditor():
    user = make_user()
    user.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return user


def download(client, url: str, data: dict) -> tuple[StreamingHttpResponse, bytes]:
    response = client.post(url, data)
    assert isinstance(response, StreamingHttpResponse), response.content.decode()[:2000]
    return response, b"".join(response.streaming_content)


def manifest_url(response) -> str:
    return reverse("exports:audit_manifest", args=[response["X-Export-Id"]])


# Who may use the pages


def every_request(export_id: str = "0" * 32):
    return [
        ("get", AUDIT, {}),
        ("post", VERIFY, {}),
        ("post", EXPORT_GENERATIONS, {"generations-format": "csv"}),
        ("post", EXPORT_AUDIT, {"audit-format": "csv"}),
        ("get", reverse("exports:audit_manifest", args=[export_id]), {}),
    ]


@pytest.mark.parametrize(("method", "url", "data"), every_request())
def test_anonymous_visitors_are_sent_to_login(client, method, url, data):
    response = getattr(client, method)(url, data)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER])
@pytest.mark.parametrize(("method", "url", "data"), every_request())
def test_viewers_developers_and_approvers_are_refused_with_a_readable_page(client, projects, role, method, url, data):
    client.force_login(make_member(projects[0], role))
    events_before = AuditEvent.objects.count()

    response = getattr(client, method)(url, data)

    assert response.status_code == 403
    page = response.content.decode()
    assert "The audit pages are not open to you" in page
    assert "auditors, superusers and project admins" in page
    refused = AuditEvent.objects.get(sequence__gt=events_before)
    assert refused.action == "auth.refused" and refused.payload["path"] == url


@pytest.mark.parametrize("make", [auditor, lambda: make_user(is_superuser=True)], ids=["auditor", "superuser"])
def test_auditors_and_superusers_see_the_chain_and_both_exports(client, projects, make):
    client.force_login(make())

    page = client.get(AUDIT).content.decode()

    head = AuditEvent.objects.order_by("-sequence").first()
    assert f"<dd>{AuditEvent.objects.count()}</dd>" in page
    assert f'sequence {head.sequence}, hash <code class="hash">{head.hash}</code>' in page
    assert "Generation log" in page and "Audit events" in page
    assert '<option value="alpha">' in page and '<option value="beta">' in page


def test_the_audit_page_shows_the_public_key_for_auditors_to_keep_and_the_newest_checkpoint(client, projects):
    client.force_login(auditor())
    assert "None yet." in client.get(AUDIT).content.decode()
    call_command("audit_checkpoint", stdout=io.StringIO())

    page = client.get(AUDIT).content.decode()

    assert keys.public_key_pem().strip() in page
    assert f"Key id <code>{proofs.key_id(keys.public_key())}</code>" in page
    newest = checkpoints.newest_checkpoint()
    assert f'{newest.tree_size} events, Merkle root <code class="hash">{newest.root_hash}</code>' in page


def test_the_navigation_offers_the_audit_page_only_to_those_who_may_use_it(client, projects):
    client.force_login(make_member(projects[0], Role.APPROVER))
    assert f'href="{AUDIT}"' not in client.get(reverse("dashboard:overview")).content.decode()

    client.force_login(make_member(projects[0], Role.ADMIN))
    assert f'href="{AUDIT}"' in client.get(reverse("dashboard:overview")).content.decode()


# Verification


def test_the_verify_button_reports_an_intact_chain_and_records_the_run(client, projects):
    client.force_login(auditor())
    count = AuditEvent.objects.count()

    page = client.post(VERIFY, follow=True).content.decode()

    assert f"Intact: {count} events checked" in page
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == "audit.verified"
    assert event.payload["intact"] is True and event.payload["checked"] == count


def test_the_verify_button_says_which_events_stood_on_the_newest_checkpoint(client, projects):
    client.force_login(auditor())
    covered = checkpoints.write_checkpoint().tree_size
    count = AuditEvent.objects.count()

    page = client.post(VERIFY, follow=True).content.decode()

    assert (
        f"Intact: {count} events checked, every hash matches and links to the one before; the first {covered} " in page
    )
    assert AuditEvent.objects.order_by("-sequence").first().payload["held_by_checkpoint"] == covered


def test_the_verify_button_names_the_broken_sequence_after_tampering(client, projects):
    client.force_login(auditor())
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=3).update(payload={"changed": "afterwards"})

    page = client.post(VERIFY, follow=True).content.decode()

    assert "Broken at sequence 3: its contents do not match its hash: the event was changed." in page
    assert "verification-broken" in page
    assert AuditEvent.objects.order_by("-sequence").first().payload["broken_at"] == 3


def test_verify_from_htmx_answers_with_the_chain_fragment(client, projects):
    client.force_login(auditor())

    response = client.post(VERIFY, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="chain-state"')
    assert "Intact:" in body and "<html" not in body


# Exports from the browser


def test_an_export_streams_as_an_attachment_and_its_manifest_matches_the_bytes(client, projects):
    client.force_login(auditor())

    response, data = download(client, EXPORT_GENERATIONS, {"generations-format": "csv", "generations-project": "beta"})

    assert response["Content-Disposition"] == f'attachment; filename="generations-{response["X-Export-Id"]}.csv"'
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [row["prompt"] for row in rows] == ["beta prompt 0", "beta prompt 1", "beta prompt 2"]
    manifest = json.loads(client.get(manifest_url(response)).content)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["rows"] == 3 and manifest["filters"]["project"] == "beta"
    event = AuditEvent.objects.get(action="export.made")
    assert manifest["audit_event"]["sequence"] == event.sequence
    assert event.payload["sha256"] == manifest["sha256"]
    assert verify_chain().intact


def test_the_audit_page_lists_the_export_with_a_link_to_its_manifest(client, projects):
    client.force_login(auditor())
    response, data = download(client, EXPORT_AUDIT, {"audit-format": "jsonl", "audit-action": "policy.revised"})

    page = client.get(AUDIT).content.decode()

    assert response["X-Export-Id"] in page
    assert hashlib.sha256(data).hexdigest() in page
    assert f'href="{manifest_url(response)}"' in page
    assert "action policy.revised" in page


def test_a_download_cut_off_before_its_end_records_no_export(client, rf, projects):
    request = rf.post(EXPORT_GENERATIONS, {"generations-format": "csv"})
    request.user = auditor()
    response = audit_views.export(request, kind="generations")

    next(iter(response.streaming_content))
    # What the web server does when the browser goes away. Keep the test's database
    # connection open, as Django's test client does when it closes a response.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)

    assert not AuditEvent.objects.filter(action="export.made").exists()
    client.force_login(request.user)
    assert "No exports yet." in client.get(AUDIT).content.decode()


def test_an_invalid_export_shows_the_page_with_the_reason(client, projects):
    client.force_login(auditor())

    response = client.post(EXPORT_GENERATIONS, {"generations-format": "csv", "generations-since": "yesterday"})

    assert response.status_code == 400
    assert not isinstance(response, StreamingHttpResponse)
    assert "This export cannot be made" in response.content.decode()
    assert "&#x27;yesterday&#x27; is not an ISO date" in response.content.decode()


# Project admins


@pytest.fixture
def admin_of_alpha(client, projects):
    user = make_member(projects[0], Role.ADMIN)
    client.force_login(user)
    return user


def test_a_project_admin_exports_only_their_own_projects(client, admin_of_alpha):
    response, data = download(client, EXPORT_GENERATIONS, {"generations-format": "jsonl"})

    rows = [row for row in map(json.loads, data.decode().splitlines()) if "audit_proof" not in row]
    assert {row["project"] for row in rows} == {"alpha"} and len(rows) == 3
    manifest = json.loads(client.get(manifest_url(response)).content)
    assert manifest["filters"]["within_projects"] == ["alpha"]


def test_a_project_admin_cannot_name_another_project(client, admin_of_alpha):
    page = client.get(AUDIT).content.decode()
    assert '<option value="alpha">' in page and '<option value="beta">' not in page

    response = client.post(EXPORT_GENERATIONS, {"generations-format": "csv", "generations-project": "beta"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export.made").exists()


def test_a_project_admins_audit_export_holds_only_their_projects_events(client, admin_of_alpha, projects):
    _, data = download(client, EXPORT_AUDIT, {"audit-format": "jsonl"})

    rows = [row for row in map(json.loads, data.decode().splitlines()) if "audit_proof" not in row]
    assert rows and {row["project"] for row in rows} == {"alpha"}


def test_a_project_admin_sees_only_their_own_exports_and_manifests(client, admin_of_alpha, projects):
    client.force_login(auditor())
    auditors_export, _ = download(client, EXPORT_AUDIT, {"audit-format": "csv"})
    client.force_login(admin_of_alpha)

    page = client.get(AUDIT).content.decode()

    assert auditors_export["X-Export-Id"] not in page
    assert client.get(manifest_url(auditors_export)).status_code == 404
