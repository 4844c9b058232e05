"""Files and links attached to a step as evidence: kept with their hash, counted as evidence, reset sign-offs."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from governance.audit.models import AuditEvent
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import SignOff
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def bare_plan(production, people):
    return services.create_plan(
        environment=production, to_snapshot=NEW, reason="Better motion", author=people["author"]
    )


def test_an_attached_file_is_evidence_enough_for_an_approval(bare_plan, people):
    step = bare_plan.steps.first()
    report = SimpleUploadedFile("report.xml", b"<testsuite failures='0'/>", content_type="text/xml")
    services.attach_evidence(plan=bare_plan, step=step, user=people["author"], file=report)
    services.submit_for_review(plan=bare_plan, user=people["author"])

    signed = services.sign_off(plan=bare_plan, step=step, user=people["approver"], decision="approve", comment="ok")

    assert signed.decision == SignOff.Decision.APPROVE
    stored = step.evidence_files.get()
    assert stored.sha256 == hashlib.sha256(b"<testsuite failures='0'/>").hexdigest() and stored.name == "report.xml"


def test_attaching_evidence_resets_the_steps_sign_offs_and_its_author_does_not_sign_it(bare_plan, people):
    step = bare_plan.steps.first()
    services.attach_evidence(plan=bare_plan, step=step, user=people["author"], link="https://ci.example.com/1")
    services.submit_for_review(plan=bare_plan, user=people["author"])
    services.sign_off(plan=bare_plan, step=step, user=people["approver"], decision="approve", comment="ok")

    services.attach_evidence(plan=bare_plan, step=step, user=people["lead"], link="https://ci.example.com/2")

    assert not step.sign_offs.filter(reset_at__isnull=True).exists()
    step.refresh_from_db()
    assert step.links() == ["https://ci.example.com/1", "https://ci.example.com/2"]
    with pytest.raises(PlanRefused) as refused:
        services.sign_off(plan=bare_plan, step=step, user=people["lead"], decision="approve", comment="mine")
    assert refused.value.code == "own_evidence"
    assert AuditEvent.objects.filter(action="migration.evidence_attached").count() == 2


def test_the_plan_page_attaches_a_file_and_offers_it_as_a_download(bare_plan, people):
    browser = Client()
    browser.force_login(people["author"])
    step = bare_plan.steps.first()
    base = f"/projects/shop/migrations/{bare_plan.pk}/steps/{step.pk}"

    browser.post(f"{base}/attach/", {"file": SimpleUploadedFile("bench.csv", b"p95,12.5\n")})

    page = browser.get(f"/projects/shop/migrations/{bare_plan.pk}/")
    stored = step.evidence_files.get()
    assert b"bench.csv" in page.content
    download = browser.get(f"{base}/files/{stored.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"p95,12.5\n"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="bench.csv"'


def test_a_viewer_may_not_attach_evidence(bare_plan, project):
    viewer = make_member(project, "viewer")
    browser = Client()
    browser.force_login(viewer)
    step = bare_plan.steps.first()

    response = browser.post(
        f"/projects/shop/migrations/{bare_plan.pk}/steps/{step.pk}/attach/", {"file": SimpleUploadedFile("x", b"x")}
    )

    assert response.status_code == 403 and not step.evidence_files.exists()
