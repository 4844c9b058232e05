import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.catalog.models import Snapshot
from governance.generations.models import Generation
from governance.lifecycle.services import raise_shutdown_alerts
from governance.policies.engine import ALIAS_FOLLOW, ALIAS_REFUSE
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user, simulator_provider

pytestmark = pytest.mark.django_db
User = get_user_model()

SORA_SHUTDOWN = dt.date(2026, 9, 24)


def schedule_shutdown(name: str, *, deprecated_on: dt.date, shutdown_on: dt.date) -> None:
    Snapshot.objects.filter(provider=simulator_provider(), name=name).update(
        deprecated_on=deprecated_on, shutdown_on=shutdown_on
    )


@pytest.fixture
def project():
    return make_project("video-app", name="Video app")


@pytest.fixture
def member_client(client, project):
    client.force_login(make_member(project))
    return client


def overview(client) -> str:
    return client.get(reverse("dashboard:overview")).content.decode()


def test_overview_shows_the_pinned_snapshot_and_the_alias_following_environment(member_client, project):
    make_environment(project, "development", default_model="sora-2", alias_requests=ALIAS_FOLLOW)
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD], protected=True)

    page = overview(member_client)

    assert '<p class="pin"><code>sora-2-2025-12-08</code></p>' in page
    assert "follows alias <code>sora-2</code>" in page
    assert f'<p class="pin"><code>{OLD}</code></p>' in page
    assert page.count('<span class="tag">pinned</span>') == 1
    assert 'title="Changes need an approved migration plan">protected</span>' in page


def test_environment_columns_run_from_development_to_production(member_client, project):
    make_environment(project, "production")
    make_environment(project, "development")

    page = overview(member_client)

    columns = ("Development", "Testing", "Staging", "Production")
    positions = [page.index(f'<th scope="col">{name}</th>') for name in columns]
    assert positions == sorted(positions)
    assert page.count("Not set up") == 2


def test_overview_names_alias_handling_and_the_canary(member_client, project):
    make_environment(
        project, "staging", default_model=OLD, canary_snapshot=NEW, canary_percent=10, alias_requests=ALIAS_REFUSE
    )

    page = overview(member_client)

    assert f"<code>{NEW}</code> at 10%" in page
    assert "<dt>Alias requests</dt><dd>refused</dd>" in page
    assert page.count("refused") == page.count("<dd>refused</dd>") + 1  # and once in the 24-hour counts


def test_a_shut_down_pin_is_a_red_cell_and_listed_in_the_banner(member_client, project):
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])

    with time_machine.travel(dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC), tick=False):
        page = overview(member_client)

    assert 'role="alert"' in page
    assert "1 environment needs attention" in page
    assert f"Video app / Production</strong></a> is pinned to {OLD}, which shut down on 2026-09-24" in page
    assert "cell-problem" in page
    assert "Shut down since 2026-09-24" in page


def test_a_pin_shutting_down_within_30_days_is_listed_with_days_left(member_client, project):
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])

    with time_machine.travel(dt.datetime(2026, 9, 12, 12, tzinfo=dt.UTC), tick=False):
        page = overview(member_client)

    assert "Deprecated · 12 days left" in page
    assert "which shuts down on 2026-09-24 (12 days left)" in page


def test_a_pin_shutting_down_later_than_30_days_is_not_a_problem(member_client, project):
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])

    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        page = overview(member_client)

    assert "Deprecated · 115 days left" in page
    assert "needs attention" not in page
    assert "cell-problem" not in page


def test_an_alias_whose_target_shuts_down_is_a_problem_too(member_client, project):
    schedule_shutdown(NEW, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    make_environment(project, "development", default_model="sora-2", alias_requests=ALIAS_FOLLOW)

    with time_machine.travel(dt.datetime(2026, 9, 30, tzinfo=dt.UTC), tick=False):
        page = overview(member_client)

    assert (
        f"Video app / Development</strong></a> follows alias sora-2, now {NEW}, which shut down on 2026-09-24" in page
    )


def test_the_demo_says_which_alias_an_environment_follows_and_names_each_environment_once(client):
    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False):
        call_command("seed_demo", stdout=io.StringIO())
        client.force_login(User.objects.get(username="viewer"))
        page = overview(client)
        elsewhere = client.get(reverse("dashboard:generation_list")).content.decode()

    problems = page[page.index('id="problems-heading"') :]
    problems = problems[: problems.index("</section>")]
    assert "3 environments need attention</h2>" in problems
    assert "pinned snapshots" not in problems  # one of the three follows an alias
    assert (
        f"Launch videos / Development</strong></a> follows alias sora-2, now {NEW}, which shut down on 2026-09-24"
        in problems
    )
    assert f"Launch videos / Production</strong></a> is pinned to {OLD}, which shut down on 2026-09-24" in problems
    # The overview's own box names all three: the site-wide banner does not say it again above it.
    assert "lifecycle-banner" not in page
    banner = elsewhere[elsewhere.index('id="lifecycle-banner-heading"') :]
    banner = banner[: banner.index("</section>")]
    assert "3 environments of yours depend on snapshots" in banner
    assert banner.count("Launch videos / Development") == 1
    assert f"Launch videos / Development</strong>: {OLD} has shut down (2026-09-24); {NEW} has shut down" in banner


def test_the_overviews_banner_keeps_only_what_its_own_box_does_not_say(member_client, project):
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    schedule_shutdown(NEW, deprecated_on=dt.date(2026, 9, 1), shutdown_on=dt.date(2026, 11, 15))
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])

    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False):
        raise_shutdown_alerts()
        page = overview(member_client)

    problems = page[page.index('id="problems-heading"') :]
    problems = problems[: problems.index("</section>")]
    assert "1 environment needs attention</h2>" in problems and "Video app / Production" in problems
    banner = page[page.index('id="lifecycle-banner-heading"') :]
    banner = banner[: banner.index("</section>")]
    # Staging's snapshot shuts down in 45 days: not yet a problem of the box, still worth the banner.
    assert "1 other environment of yours depends on snapshots" in banner
    assert "Video app / Staging</strong>" in banner
    assert "Video app / Production" not in banner


def test_projects_with_problems_come_first(client):
    calm, troubled = make_project("aaa-calm"), make_project("zzz-troubled")
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    make_environment(calm, "production", default_model=NEW)
    make_environment(troubled, "production", default_model=OLD)
    user = make_member(calm)
    make_member(troubled, user=user)
    client.force_login(user)

    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False):
        page = overview(client)

    table = page[page.index("<table") :]
    assert table.index("zzz-troubled") < table.index("aaa-calm")


def test_last_24_hours_counts_and_failure_rate(member_client, project):
    environment = make_environment(project, "development")
    for status in ["completed", "completed", "completed", "failed", "refused", "refused", "in_progress"]:
        make_generation(environment, status=status)
    make_generation(environment, status="failed", created_at=timezone.now() - dt.timedelta(hours=25))

    page = overview(member_client)

    assert "5 generations," in page
    assert "25.0% failed (1 of 4)" in page
    assert "2 refused" in page


def test_videos_the_client_deleted_before_they_finished_are_not_failures(member_client, project):
    environment = make_environment(project, "development")
    for status in ["completed", "completed", "completed", "failed"]:
        make_generation(environment, status=status)
    for _ in range(3):
        make_generation(environment, status="failed", error_code="deleted", deleted_at=timezone.now())

    page = overview(member_client)

    assert "25.0% failed (1 of 4)" in page


def test_an_environment_without_finished_generations_has_no_failure_rate(member_client, project):
    make_environment(project, "development")

    page = overview(member_client)

    assert "0 generations," in page
    assert "no finished ones" in page


def test_overview_queries_do_not_grow_with_the_matrix(client):
    user = make_member(make_project())
    client.force_login(user)
    for environment_name in ("development", "production"):
        make_generation(make_environment(user.memberships.get().project, environment_name))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("dashboard:overview")).status_code == 200
        return len(captured)

    small = queries()
    for _ in range(3):
        project = make_project()
        make_member(project, user=user)
        for environment_name in ("development", "testing", "staging", "production"):
            make_generation(make_environment(project, environment_name), status=Generation.Status.FAILED)

    assert queries() == small


def test_the_most_urgent_problem_comes_first_in_the_banner_and_the_table(client):
    Snapshot.objects.filter(provider=simulator_provider(), name=NEW).update(
        deprecated_on=dt.date(2026, 9, 1), shutdown_on=dt.date(2026, 10, 20)
    )
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    calm, soon, gone = make_project("aaa-calm"), make_project("bbb-soon"), make_project("ccc-gone")
    make_environment(
        calm, "production", default_model="sora-2-pro-2025-10-06", allowed_snapshots=["sora-2-pro-2025-10-06"]
    )
    make_environment(soon, "production", default_model=NEW)
    make_environment(gone, "production", default_model=OLD)
    user = make_member(calm)
    for project in (soon, gone):
        make_member(project, user=user)
    client.force_login(user)

    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False):
        page = overview(client)

    banner = page[: page.index("<table")]
    assert banner.index("Ccc-Gone / Production") < banner.index("Bbb-Soon / Production")
    assert "2 environments need attention" in banner
    table = page[page.index("<table") :]
    assert table.index("ccc-gone") < table.index("bbb-soon") < table.index("aaa-calm")


def test_the_banner_links_to_the_cell_and_names_the_replacement(member_client, project):
    schedule_shutdown(OLD, deprecated_on=dt.date(2026, 3, 24), shutdown_on=SORA_SHUTDOWN)
    Snapshot.objects.filter(provider=simulator_provider(), name=OLD).update(
        replacement=Snapshot.objects.get(provider=simulator_provider(), name=NEW)
    )
    environment = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])

    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False):
        page = overview(member_client)

    assert f'<a href="#cell-{environment.pk}">' in page
    assert f'id="cell-{environment.pk}"' in page
    assert f"Its replacement is <code>{NEW}</code>" in page
    assert f"/catalog/?a=simulator%3A{OLD}&amp;b=simulator%3A{NEW}#compare-heading" in page


def test_each_cell_links_to_its_usage(member_client, project):
    make_environment(project, "staging")

    page = overview(member_client)

    assert '/usage/?project=video-app&amp;environment=staging&amp;period=7d"' in page
    assert 'aria-label="Usage of Video app / Staging, last 7 days">usage</a>' in page


def test_a_user_without_projects_sees_an_empty_state(client):
    client.force_login(make_user())

    page = overview(client)

    assert "No projects yet" in page
    assert "<table" not in page


def test_each_project_name_links_to_its_project_page(member_client, project):
    make_environment(project, "staging")

    page = overview(member_client)

    assert '<a href="/projects/video-app/">Video app</a>' in page


def test_a_slug_that_only_repeats_the_name_is_not_shown_twice(client):
    demo = make_project("demo", name="Demo")
    make_environment(demo, "staging")
    client.force_login(make_member(demo))

    project_page = client.get(reverse("dashboard:project_detail", args=["demo"])).content.decode()

    assert "<h1>Demo</h1>" in project_page
    assert '<code class="muted">demo</code>' not in overview(client)
