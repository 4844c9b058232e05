import datetime as dt

import pytest
from django.urls import reverse

from governance.audit.models import AuditEvent
from tests.dashboard.builders import make_generation
from tests.factories import NEW, Decimal, make_environment, make_member, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def environment():
    return make_environment(make_project("video-app"), "staging", canary_snapshot=NEW, canary_percent=10)


@pytest.fixture
def member_client(client, environment):
    client.force_login(make_member(environment.project))
    return client


def detail(client, generation) -> str:
    return client.get(reverse("dashboard:generation_detail", args=[generation.video_id])).content.decode()


def test_detail_shows_what_a_reviewer_needs(member_client, environment):
    created = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    generation = make_generation(
        environment,
        requested_model="sora-2",
        resolved_snapshot=NEW,
        policy_revision=environment.policy_revisions.get(),
        canary_arm="canary",
        parameters={"model": "sora-2", "seconds": "8", "size": "1280x720"},
        seconds=8,
        size="1280x720",
        upstream_id="sim_abc123",
        estimated_cost=Decimal("0.8000"),
        created_at=created,
        completed_at=created + dt.timedelta(seconds=42),
        timeline=[
            {"status": "queued", "at": created.isoformat()},
            {"status": "in_progress", "at": (created + dt.timedelta(seconds=2)).isoformat(), "note": "sent upstream"},
            {"status": "completed", "at": (created + dt.timedelta(seconds=42)).isoformat()},
        ],
    )

    page = detail(member_client, generation)

    assert "<dt>Requested model</dt><dd><code>sora-2</code>" in page
    assert f"<dt>Resolved snapshot</dt><dd><code>{NEW}</code>" in page
    assert "<dt>Policy revision</dt><dd>revision 1</dd>" in page
    assert "<dt>Canary arm</dt><dd>canary</dd>" in page
    assert "<code>sim_abc123</code>" in page
    assert "42.0 s" in page
    assert "$0.8000" in page
    assert "<code>1280x720</code>" in page
    assert "sent upstream" in page
    timeline = page[page.index('id="timeline-heading"') :]
    assert timeline.index(">Queued<") < timeline.index(">In progress<") < timeline.index(">Completed<")
    assert "2026-05-01 10:00:02 UTC" in timeline


def test_detail_of_a_refusal_shows_code_message_and_parameter(member_client, environment):
    generation = make_generation(
        environment,
        status="refused",
        resolved_snapshot="",
        error_code="alias_not_allowed",
        error_message="'sora-2' is a moving alias and this environment refuses alias requests.",
        error_param="model",
    )

    page = detail(member_client, generation)

    assert '<h2 id="error-heading">Refused</h2>' in page
    assert "<code>alias_not_allowed</code>" in page
    assert "is a moving alias" in page
    assert "<dt>Parameter</dt><dd><code>model</code></dd>" in page


def test_detail_is_404_for_another_projects_generation_and_the_refusal_is_audited(member_client):
    stranger = make_generation(make_environment(make_project("other")))
    url = reverse("dashboard:generation_detail", args=[stranger.video_id])
    events_before = AuditEvent.objects.count()

    response = member_client.get(url)

    assert response.status_code == 404
    [refused] = AuditEvent.objects.all()[events_before:]
    assert (refused.action, refused.project.slug, refused.object_id) == ("auth.refused", "other", str(stranger.pk))
    assert refused.actor_label == response.wsgi_request.user.get_username()
    assert refused.payload == {"path": url, "method": "GET", "reason": "not a member of the generation's project"}


def test_detail_is_404_for_an_unknown_video_with_no_event(member_client):
    events_before = AuditEvent.objects.count()

    response = member_client.get(reverse("dashboard:generation_detail", args=["video_missing"]))

    assert response.status_code == 404
    assert AuditEvent.objects.count() == events_before
