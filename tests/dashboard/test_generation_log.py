import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.generations.models import Generation
from tests.dashboard.builders import make_generation
from tests.factories import make_environment, make_member, make_project

pytestmark = pytest.mark.django_db

LOG = reverse("dashboard:generation_list")


@pytest.fixture
def environment():
    return make_environment(make_project("video-app"), "development")


@pytest.fixture
def member_client(client, environment):
    client.force_login(make_member(environment.project))
    return client


def test_log_lists_newest_first_with_the_resolved_snapshot(member_client, environment):
    older = make_generation(environment, requested_model="sora-2", resolved_snapshot="sora-2-2025-12-08")
    newer = make_generation(environment, canary_arm="canary")

    page = member_client.get(LOG).content.decode()

    assert page.index(newer.video_id) < page.index(older.video_id)
    assert "<code>sora-2</code> → <code>sora-2-2025-12-08</code>" in page
    assert ">canary<" in page
    assert "video-app / development" in page


def test_refused_generations_show_their_error_code(member_client, environment):
    make_generation(environment, status="refused", resolved_snapshot="", error_code="alias_not_allowed")

    page = member_client.get(LOG).content.decode()

    assert "Refused" in page
    assert "alias_not_allowed" in page


def test_log_filters_by_status(member_client, environment):
    completed = make_generation(environment, status="completed")
    failed = make_generation(environment, status="failed", error_code="upstream_failed")

    page = member_client.get(LOG, {"status": "failed"}).content.decode()

    assert failed.video_id in page
    assert completed.video_id not in page


def test_log_filters_by_project_and_environment(client, environment):
    other_environment = make_environment(environment.project, "production")
    other_project_environment = make_environment(make_project("other"), "development")
    user = make_member(environment.project)
    make_member(other_project_environment.project, user=user)
    client.force_login(user)
    wanted = make_generation(environment)
    wrong_environment = make_generation(other_environment)
    wrong_project = make_generation(other_project_environment)

    page = client.get(LOG, {"project": "video-app", "environment": "development"}).content.decode()

    assert wanted.video_id in page
    assert wrong_environment.video_id not in page
    assert wrong_project.video_id not in page


def older_link(page: str) -> str | None:
    match = re.search(r'href="(\?[^"]*before=\d+[^"]*)" rel="next"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_keyset_pagination_returns_the_next_older_page(member_client, environment):
    generations = [make_generation(environment) for _ in range(55)]

    first = member_client.get(LOG).content.decode()
    link = older_link(first)
    second = member_client.get(LOG + link).content.decode()

    assert link == f"?before={generations[5].pk}"
    assert all(generation.video_id in first for generation in generations[5:])
    assert not any(generation.video_id in first for generation in generations[:5])
    assert all(generation.video_id in second for generation in generations[:5])
    assert not any(generation.video_id in second for generation in generations[5:])
    assert older_link(second) is None


def test_pagination_keeps_the_filters(member_client, environment):
    for _ in range(51):
        make_generation(environment, status="failed")

    page = member_client.get(LOG, {"status": "failed"}).content.decode()

    assert "status=failed" in older_link(page)


def test_log_pages_without_count_or_offset(member_client, environment):
    for _ in range(3):
        make_generation(environment)

    with CaptureQueriesContext(connection) as captured:
        member_client.get(LOG, {"before": 10**9})

    sql = " ".join(query["sql"].upper() for query in captured)
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql


def test_htmx_request_returns_only_the_rows_partial(member_client, environment):
    generation = make_generation(environment, status="failed")

    response = member_client.get(LOG, {"status": "failed"}, headers={"HX-Request": "true"})
    body = response.content.decode()

    assert "<html" not in body
    assert body.lstrip().startswith('<tbody id="generation-rows"')
    assert generation.video_id in body
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_full_page(member_client, environment):
    response = member_client.get(LOG, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})

    assert "<html" in response.content.decode()


def test_filter_form_updates_only_the_rows_with_htmx(member_client):
    page = member_client.get(LOG).content.decode()

    assert 'hx-get="/generations/"' in page
    assert 'hx-target="#generation-rows"' in page
    assert 'hx-push-url="true"' in page
    for field in ("project", "environment", "status"):
        assert f'<label for="id_{field}">' in page


def test_running_generations_show_progress_and_the_rows_poll(member_client, environment):
    make_generation(environment, status=Generation.Status.IN_PROGRESS, progress=40)

    page = member_client.get(LOG).content.decode()

    assert '<progress value="40" max="100"' in page
    assert 'hx-trigger="every 2s"' in page


def test_rows_stop_polling_when_everything_is_finished(member_client, environment):
    make_generation(environment, status=Generation.Status.COMPLETED)
    make_generation(environment, status=Generation.Status.REFUSED)

    page = member_client.get(LOG, headers={"HX-Request": "true"}).content.decode()

    assert "every 2s" not in page
    assert "<progress" not in page
