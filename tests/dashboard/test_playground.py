"""The playground submits through the gateway's own service: same policy, same log, same worker hand-off."""

import re
import time

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from governance.audit.models import AuditEvent
from governance.generations import admission
from governance.generations import tasks as generation_tasks
from governance.generations.models import Generation
from governance.generations.ratelimit import WINDOW_SECONDS
from governance.generations.services import PLAYGROUND_KEY_NAME
from governance.projects.models import ApiKey, Role
from tests.factories import NEW, OLD, make_environment, make_member, make_project

pytestmark = pytest.mark.django_db

PLAYGROUND = reverse("dashboard:playground")


@pytest.fixture
def production():
    return make_environment(
        make_project("shop"), "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(generation_tasks, "enqueue_first_steps", lambda steps, **kwargs: calls.extend(steps) or True)
    return calls


def developer_client(client, environment):
    user = make_member(environment.project, Role.DEVELOPER)
    client.force_login(user)
    return client, user


def post(client, environment, **fields):
    return client.post(PLAYGROUND, {"environment": environment.pk, "prompt": "a lighthouse at dusk", **fields})


def test_a_developer_sees_only_environments_where_they_develop(client, production):
    read_only = make_environment(make_project("elsewhere"), "staging")
    client, user = developer_client(client, production)
    make_member(read_only.project, Role.VIEWER, user=user)

    page = client.get(PLAYGROUND).content.decode()

    assert "Shop / Production" in page
    assert "Elsewhere" not in page
    for field in ("environment", "model", "prompt", "seconds", "size"):
        assert f'for="id_{field}"' in page


def test_an_accepted_generation_is_logged_for_its_user_and_goes_to_the_worker_through_the_outbox(
    client, production, enqueued
):
    client, user = developer_client(client, production)

    response = post(client, production, model=OLD, seconds="8", size="1280x720")
    generation_tasks.dispatch_outbox()

    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:generation_detail", args=[generation.video_id])
    assert (generation.status, generation.resolved_snapshot, generation.seconds) == ("queued", OLD, 8)
    assert generation.parameters == {"model": OLD, "seconds": 8, "size": "1280x720"}
    assert generation.submitted_by == user
    assert generation.api_key.name == PLAYGROUND_KEY_NAME
    assert enqueued == [(generation.pk, generation.step_token, generation.request_id)]


def test_the_detail_page_of_a_playground_generation_names_who_submitted_it(client, production, enqueued):
    client, user = developer_client(client, production)

    response = post(client, production)
    page = client.get(response["Location"]).content.decode()

    assert f"submitted from the playground by <strong>{user.username}</strong>" in page
    assert 'id="live-progress"' in page and 'hx-trigger="every 2s"' in page


def test_a_refusal_shows_the_policys_readable_reason_and_is_logged(client, production, enqueued):
    client, _ = developer_client(client, production)

    response = post(client, production, model="sora-2")
    page = response.content.decode()

    refused = Generation.objects.get()
    assert response.status_code == 200
    assert "Refused by the policy" in page
    assert escape(refused.error_message) in page
    assert "<code>alias_not_allowed</code>" in page
    assert reverse("dashboard:generation_detail", args=[refused.video_id]) in page
    assert refused.status == "refused"
    assert enqueued == []


def test_a_snapshot_outside_the_policy_is_refused_like_on_the_gateway(client, production, enqueued):
    client, _ = developer_client(client, production)

    post(client, production, model=NEW)

    assert Generation.objects.get().error_code == "model_not_allowed"


def test_the_playground_key_is_created_once_per_environment_with_an_audit_event(client, production, enqueued):
    client, user = developer_client(client, production)

    post(client, production)
    post(client, production)

    [key] = ApiKey.objects.filter(environment=production, name=PLAYGROUND_KEY_NAME)
    assert key.created_by == user
    [event] = AuditEvent.objects.filter(action="api_key.created", object_id=str(key.pk))
    assert event.actor_label == user.username
    assert Generation.objects.filter(api_key=key).count() == 2


def test_a_viewer_is_refused_the_playground_with_a_403_that_is_audited(client, production):
    viewer = make_member(production.project, Role.VIEWER)
    client.force_login(viewer)

    response = client.get(PLAYGROUND)

    assert response.status_code == 403
    assert "The playground needs the developer role in a project" in response.content.decode()
    event = AuditEvent.objects.filter(action="auth.refused").latest("pk")
    assert event.actor_label == viewer.username
    assert event.payload["reason"] == "needs the developer role in at least one project"


def test_a_viewer_posting_to_their_projects_environment_is_refused_and_nothing_is_submitted(client, production):
    developer_elsewhere = make_member(make_project("other"), Role.DEVELOPER)
    make_member(production.project, Role.VIEWER, user=developer_elsewhere)
    client.force_login(developer_elsewhere)

    response = post(client, production)

    assert response.status_code == 403
    assert "The playground needs the developer role in Shop" in response.content.decode()
    assert not Generation.objects.exists()
    event = AuditEvent.objects.filter(action="auth.refused").latest("pk")
    assert (event.project, event.payload["reason"]) == (production.project, "needs the developer role in shop")


def test_an_environment_the_user_cannot_see_is_not_offered(client, production):
    stranger = make_environment(make_project("secret"), "development")
    client, _ = developer_client(client, production)

    response = post(client, stranger)

    assert response.status_code == 400
    assert not Generation.objects.exists()


def test_a_playground_submission_notes_its_keys_last_use_like_an_api_request(client, production, enqueued):
    admission._last_used_written.clear()  # key ids of rolled-back tests come back
    client, _ = developer_client(client, production)

    post(client, production)

    assert ApiKey.objects.get(environment=production, name=PLAYGROUND_KEY_NAME).last_used_at is not None


def test_the_playground_keeps_to_the_environments_per_key_rate_limit(client, production, enqueued):
    production.rate_limit_per_minute = 2
    production.save()
    client, _ = developer_client(client, production)

    # The limit counts in fixed one-minute windows: all three inside the next one, whatever the clock's second.
    next_window = (int(time.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
    with time_machine.travel(next_window + 5, tick=False):
        answers = [post(client, production) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [302, 302, 429]
    assert "has made its 2 requests this minute" in answers[2].content.decode()
    assert int(answers[2]["Retry-After"]) >= 1
    assert Generation.objects.count() == 2


def accepted_and_refused(page: str, field: str) -> tuple[list[str], list[str]]:
    select = page[page.index(f'name="{field}"') :]
    select = select[: select.index("</select>")]
    accepted, _, refused = select.partition("Refused by its policy")
    return re.findall(r'<option value="([^"]+)"', accepted), re.findall(r'<option value="([^"]+)"', refused)


def test_the_form_groups_each_list_by_what_the_chosen_environments_policy_accepts(client, production):
    development = make_environment(
        production.project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow"
    )
    client, user = developer_client(client, production)
    make_member(development.project, Role.DEVELOPER, user=user)

    pinned = client.get(PLAYGROUND, {"environment": production.pk}).content.decode()
    following = client.get(PLAYGROUND, {"environment": development.pk}).content.decode()

    accepted, refused = accepted_and_refused(pinned, "model")
    assert OLD in accepted and NEW not in accepted and "sora-2" not in accepted
    assert {NEW, "sora-2"} <= set(refused)  # still offered, to see the refusal an application would get
    assert "25" in accepted_and_refused(pinned, "seconds")[1]  # 2025-10-06 makes no 25 s video
    accepted, _ = accepted_and_refused(following, "model")
    assert {OLD, NEW, "sora-2"} <= set(accepted)
    assert "25" in accepted_and_refused(following, "seconds")[0]


def test_changing_the_environment_swaps_in_its_choices_alone(client, production):
    client, _ = developer_client(client, production)

    response = client.get(PLAYGROUND, {"environment": production.pk}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="playground-choices"')
    assert "<html" not in body and 'name="prompt"' not in body
    assert OLD in accepted_and_refused(body, "model")[0]
