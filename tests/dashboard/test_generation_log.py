import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.dashboard import selectors
from governance.generations.models import Generation
from tests.dashboard.builders import make_generation
from tests.factories import (
    NEW,
    OLD,
    SAMPLE_MP4,
    make_api_key,
    make_character,
    make_environment,
    make_member,
    make_project,
)
from tests.generations.conftest import Api

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


def test_a_video_the_client_deleted_before_it_finished_is_not_shown_as_an_error(member_client, environment):
    make_generation(
        environment,
        status="failed",
        error_code=Generation.DELETED_BY_CLIENT,
        error_message="The client deleted this video before it finished.",
    )

    page = member_client.get(LOG).content.decode()

    rows = page.split('id="generation-rows"')[1]
    assert 'status-deleted" title="Deleted by the client before it finished">Deleted by the client</span>' in rows
    assert '<span class="muted">before it finished</span>' in rows
    assert "Failed" not in rows and "error-code" not in rows


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


def test_log_filters_by_resolved_snapshot(member_client, environment):
    on_old = make_generation(environment, resolved_snapshot=OLD)
    on_new = make_generation(environment, resolved_snapshot=NEW)

    page = member_client.get(LOG, {"snapshot": OLD}).content.decode()

    assert on_old.video_id in page
    assert on_new.video_id not in page


def test_log_filters_refused_generations(member_client, environment):
    refused = make_generation(environment, status="refused", resolved_snapshot="", error_code="model_not_allowed")
    accepted = make_generation(environment)

    page = member_client.get(LOG, {"status": "refused"}).content.decode()

    assert refused.video_id in page
    assert accepted.video_id not in page


def test_log_filters_by_utc_date_range_with_both_days_included(member_client, environment):
    def on(day, hour=12):
        return make_generation(environment, created_at=dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC))

    before, first_day, last_day, after = on(1, 23), on(2, 0), on(4, 23), on(5, 0)

    page = member_client.get(LOG, {"created_from": "2026-03-02", "created_to": "2026-03-04"}).content.decode()

    assert first_day.video_id in page and last_day.video_id in page
    assert before.video_id not in page and after.video_id not in page


def test_a_date_range_ending_before_it_starts_is_explained(member_client, environment):
    make_generation(environment)

    page = member_client.get(LOG, {"created_from": "2026-03-04", "created_to": "2026-03-02"}).content.decode()

    assert "The end date is before the start date." in page


def test_log_searches_prompts_case_insensitively(member_client, environment):
    lighthouse = make_generation(environment, prompt="A Lighthouse at dusk")
    cat = make_generation(environment, prompt="a cat on a sofa")

    page = member_client.get(LOG, {"q": "lighthouse"}).content.decode()

    assert lighthouse.video_id in page
    assert cat.video_id not in page


def test_prompt_search_reads_a_bounded_window_and_older_carries_on(member_client, environment, monkeypatch):
    monkeypatch.setattr(selectors, "TEXT_SEARCH_WINDOW", 5)
    needle = make_generation(environment, prompt="the only lighthouse")
    for _ in range(7):
        make_generation(environment, prompt="a cat")

    first = member_client.get(LOG, {"q": "lighthouse"}).content.decode()
    second = member_client.get(LOG + older_link(first)).content.decode()

    assert needle.video_id not in first
    assert "No generations match these filters." in first
    assert "searches further back" in first
    assert needle.video_id in second
    assert older_link(second) is None


def test_the_log_is_ordered_by_creation_time_not_by_id(member_client, environment):
    backdated = make_generation(environment, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    earlier_row = make_generation(environment, created_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))

    page = member_client.get(LOG).content.decode()

    assert page.index(earlier_row.video_id) < page.index(backdated.video_id)


def test_keyset_pagination_is_exact_when_rows_share_a_creation_time(member_client, environment):
    moment = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    generations = [make_generation(environment, created_at=moment) for _ in range(52)]

    first = member_client.get(LOG).content.decode()
    second = member_client.get(LOG + older_link(first)).content.decode()

    shown = [g for g in generations if g.video_id in first] + [g for g in generations if g.video_id in second]
    assert sorted(g.pk for g in shown) == sorted(g.pk for g in generations)


def test_an_empty_log_says_how_generations_get_there(member_client):
    page = member_client.get(LOG).content.decode()

    assert "No generations yet." in page
    assert 'href="/playground/"' in page


def test_each_running_row_polls_its_own_partial(member_client, environment):
    running = make_generation(environment, status=Generation.Status.QUEUED)
    finished = make_generation(environment, status=Generation.Status.COMPLETED)

    page = member_client.get(LOG).content.decode()

    rows = dict(re.findall(r'<tr id="row-(video_\w+)"([^>]*)>', page))
    row_url = reverse("dashboard:generation_row", args=[running.video_id])
    assert f'hx-get="{row_url}" hx-trigger="every 2s" hx-swap="outerHTML"' in rows[running.video_id]
    assert "hx-" not in rows[finished.video_id]


def test_the_row_partial_shows_progress_while_the_generation_runs(member_client, environment):
    running = make_generation(environment, status=Generation.Status.IN_PROGRESS, progress=65)

    response = member_client.get(reverse("dashboard:generation_row", args=[running.video_id]))
    body = response.content.decode()

    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="row-{running.video_id}"')
    assert '<progress value="65" max="100"' in body
    assert 'hx-trigger="every 2s"' in body


def test_the_row_partial_stops_polling_once_the_generation_is_finished(member_client, environment):
    done = make_generation(environment, status=Generation.Status.COMPLETED)

    response = member_client.get(reverse("dashboard:generation_row", args=[done.video_id]))
    body = response.content.decode()

    assert response.status_code == 286  # htmx's "stop polling"
    assert "hx-trigger" not in body
    assert "100%" in body and "<progress" not in body


def test_the_row_partial_of_another_projects_generation_is_404_and_audited(member_client):
    stranger = make_generation(make_environment(make_project("other")))

    response = member_client.get(reverse("dashboard:generation_row", args=[stranger.video_id]))

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="auth.refused", object_id=str(stranger.pk)).exists()


def log_row_html(page: str, generation: Generation) -> str:
    return page.split(f'<tr id="row-{generation.video_id}"')[1].split("</tr>")[0]


def test_each_row_names_its_operation_and_a_derived_videos_source(member_client, environment):
    original = make_generation(environment, prompt="a lighthouse")
    derived = [
        make_generation(environment, operation=operation, remixed_from=original, prompt=f"{operation} it")
        for operation in ("remix", "edit", "extend")
    ]

    page = member_client.get(LOG).content.decode()

    assert '<span class="tag tag-operation">Create</span>' in log_row_html(page, original)
    source_link = reverse("dashboard:generation_detail", args=[original.video_id])
    for generation, label in zip(derived, ("Remix", "Edit", "Extension"), strict=True):
        row = log_row_html(page, generation)
        assert f'<span class="tag tag-operation">{label}</span>' in row
        assert f"{generation.operation} it" in row
        assert f'from <a href="{source_link}" title="{original.video_id}">' in row
    assert "from <a" not in log_row_html(page, original)


def test_a_character_row_shows_its_name_and_no_price(member_client, environment):
    character = make_character(environment, name="Mona")

    page = member_client.get(LOG).content.decode()

    row = log_row_html(page, character.generation)
    assert '<span class="tag tag-operation">Character</span>' in row
    assert '<strong class="character-name">Mona</strong>' in row
    assert "$0.00" not in row


def test_a_refused_character_row_shows_the_name_it_asked_for(member_client, environment):
    clip = SimpleUploadedFile("max.mp4", SAMPLE_MP4, content_type="video/mp4")
    # The environment's default snapshot makes no characters: the gateway refuses and logs the request.
    response = Api(make_api_key(environment)).post("videos/characters", {"name": "Max", "video": clip}, json=False)
    assert response.status_code == 400
    refused = Generation.objects.get(video_id=response["X-Governance-Generation"])

    row = log_row_html(member_client.get(LOG).content.decode(), refused)

    assert '<strong class="character-name">Max</strong>' in row
    assert "operation_not_supported" in row


def test_log_filters_by_operation(member_client, environment):
    created = make_generation(environment)
    remix = make_generation(environment, operation="remix", remixed_from=created)
    character = make_character(environment)

    page = member_client.get(LOG, {"operation": "remix"}).content.decode()

    assert f'id="row-{remix.video_id}"' in page
    assert f'id="row-{created.video_id}"' not in page
    assert f'id="row-{character.generation.video_id}"' not in page
    assert '<label for="id_operation">Operation</label>' in page


def test_sources_and_character_names_do_not_cost_a_query_per_row(member_client, environment):
    def log_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            member_client.get(LOG)
        return len(captured)

    original = make_generation(environment)
    make_generation(environment, operation="remix", remixed_from=original)
    make_character(environment, name="Mona")
    few = log_queries()
    for _ in range(5):
        make_generation(environment, operation="extend", remixed_from=original)
        make_character(environment, name="Max")

    assert log_queries() == few


def test_a_polled_row_does_not_carry_the_header_counts(member_client, environment):
    running = make_generation(environment, status=Generation.Status.IN_PROGRESS, progress=65)

    with CaptureQueriesContext(connection) as captured:
        response = member_client.get(
            reverse("dashboard:generation_row", args=[running.video_id]), headers={"HX-Request": "true"}
        )

    assert "hx-swap-oob" not in response.content.decode()
    assert not any("notifications_notification" in query["sql"] for query in captured)
