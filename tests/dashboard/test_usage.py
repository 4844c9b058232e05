import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.dashboard import usage_selectors
from governance.dashboard.usage_selectors import UsageFilters, percentile, usage
from governance.generations.models import Generation
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 20, 12, 30, tzinfo=dt.UTC)
COMPLETED, FAILED, REFUSED = Generation.Status.COMPLETED, Generation.Status.FAILED, Generation.Status.REFUSED


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def member(project):
    return make_member(project)


def generation(environment, *, hours_ago: float, status=COMPLETED, latency: float = 60, cost="0.40", snapshot=NEW):
    created_at = NOW - dt.timedelta(hours=hours_ago)
    finished = status in (COMPLETED, FAILED)
    return make_generation(
        environment,
        status=status,
        created_at=created_at,
        completed_at=created_at + dt.timedelta(seconds=latency) if finished else None,
        estimated_cost=Decimal(cost),
        resolved_snapshot="" if status == REFUSED else snapshot,
    )


def test_counts_failure_rate_cost_and_latency_percentiles_per_hour(project, member):
    environment = make_environment(project, "production")
    for latency in (10, 20, 30, 40):
        generation(environment, hours_ago=0.25, latency=latency)
    generation(environment, hours_ago=0.25, status=FAILED, cost="0.80")
    generation(environment, hours_ago=0.25, status=REFUSED)
    generation(environment, hours_ago=3, latency=100)

    report = usage(member, UsageFilters(period="24h"), now=NOW)

    assert len(report.buckets) == 24
    current = report.buckets[-1]
    assert current.start == dt.datetime(2026, 5, 20, 12, tzinfo=dt.UTC)
    assert (current.stats.accepted, current.stats.completed, current.stats.failed, current.stats.refused) == (
        5,
        4,
        1,
        1,
    )
    assert current.stats.failure_percent == 20.0
    assert current.stats.cost == Decimal("1.60")  # failed generations cost nothing
    assert current.stats.p50_seconds == pytest.approx(25)
    assert current.stats.p95_seconds == pytest.approx(38.5)
    assert report.buckets[-4].stats.p50_seconds == pytest.approx(100)
    assert report.buckets[-2].stats.accepted == 0


def test_groups_by_project_environment_and_snapshot(project, member):
    production, staging = make_environment(project, "production"), make_environment(project, "staging")
    generation(production, hours_ago=1, snapshot=OLD)
    generation(production, hours_ago=2, snapshot=NEW)
    generation(staging, hours_ago=2, snapshot=NEW, status=FAILED)

    report = usage(member, UsageFilters(period="24h"), now=NOW)

    groups = {(g.project_slug, g.environment, g.snapshot): g.stats for g in report.groups}
    assert set(groups) == {("shop", "production", OLD), ("shop", "production", NEW), ("shop", "staging", NEW)}
    assert groups[("shop", "staging", NEW)].failure_percent == 100.0


def test_a_video_the_client_deleted_before_it_finished_is_not_a_failure(project, member):
    environment = make_environment(project, "production")
    generation(environment, hours_ago=0.25)
    generation(environment, hours_ago=0.25, status=FAILED)
    stopped = generation(environment, hours_ago=0.25, status=FAILED)
    Generation.objects.filter(pk=stopped.pk).update(error_code="deleted", deleted_at=NOW)

    current = usage(member, UsageFilters(period="24h"), now=NOW).buckets[-1].stats

    assert (current.accepted, current.completed, current.failed) == (3, 1, 1)
    assert current.failure_percent == 50.0


def test_the_period_bounds_what_is_counted(project, member):
    environment = make_environment(project, "production")
    generation(environment, hours_ago=30)
    generation(environment, hours_ago=24 * 6)
    generation(environment, hours_ago=24 * 20)

    assert sum(b.stats.accepted for b in usage(member, UsageFilters(period="24h"), now=NOW).buckets) == 0
    week = usage(member, UsageFilters(period="7d"), now=NOW)
    assert len(week.buckets) == 7
    assert week.buckets[0].start == dt.datetime(2026, 5, 14, tzinfo=dt.UTC)
    assert sum(b.stats.accepted for b in week.buckets) == 2
    assert sum(b.stats.accepted for b in usage(member, UsageFilters(period="30d"), now=NOW).buckets) == 3


def test_percentiles_interpolate_like_postgresql():
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([10, 20, 30, 40], 0.95) == pytest.approx(38.5)
    assert percentile([7], 0.95) == 7


def usage_page(client, **params) -> str:
    response = client.get(reverse("dashboard:usage"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_filters_by_environment_and_snapshot(client, project, member):
    production, staging = make_environment(project, "production"), make_environment(project, "staging")
    generation(production, hours_ago=1, snapshot=OLD)
    generation(staging, hours_ago=1, snapshot=NEW)
    client.force_login(member)

    page = usage_page(client, environment="production")
    assert "shop / production" in page and "shop / staging" not in page

    page = usage_page(client, snapshot=NEW)
    assert "shop / staging" in page and "shop / production" not in page


def test_only_the_users_projects_are_counted(client, project, member):
    generation(make_environment(project, "production"), hours_ago=1)
    hidden = make_project("secret-project")
    generation(make_environment(hidden, "production"), hours_ago=1)
    client.force_login(member)

    page = usage_page(client)

    assert "shop / production" in page
    assert "secret-project" not in page


def test_asking_for_another_projects_usage_is_refused_on_the_page(client, project, member):
    generation(make_environment(make_project("secret-project"), "production"), hours_ago=1)
    client.force_login(member)

    page = usage_page(client, project="secret-project")

    assert "These filters cannot be applied" in page
    assert "secret-project / production" not in page


def test_charts_are_svg_with_a_title_a_description_and_a_table(client, project, member):
    environment = make_environment(project, "production")
    generation(environment, hours_ago=1, latency=42)
    generation(environment, hours_ago=1, status=FAILED)
    client.force_login(member)

    page = usage_page(client)

    for title in ("Volume", "Failure rate", "Latency (p50 and p95)", "Cost"):
        assert f">{title}</title>" in page
        assert f"{title} as a table</summary>" in page
    assert page.count('role="img"') == 4
    assert '<desc id="chart-latency-desc">' in page
    assert "<td>42.0 s</td>" in page  # the latency table's p50 for that hour
    assert "<td>50.0%</td>" in page


def test_htmx_gets_only_the_report(client, project, member):
    generation(make_environment(project, "production"), hours_ago=1)
    client.force_login(member)

    response = client.get(reverse("dashboard:usage"), {"period": "7d"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="usage-report"')
    assert "last 7 days" in body
    assert "<html" not in body


def test_no_generations_in_the_period_is_an_empty_state(client, project, member):
    make_environment(project, "production")
    client.force_login(member)

    assert "No generations match these filters in the last 24 hours" in usage_page(client)


def test_a_user_without_projects_is_told_why_the_page_is_empty(client):
    client.force_login(make_user())

    assert "You are not a member of any project yet" in usage_page(client)


def test_the_page_takes_the_same_queries_however_many_projects(client, project, member):
    generation(make_environment(project, "production"), hours_ago=1)
    client.force_login(member)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            usage_page(client)
        return len(captured)

    few = queries()
    for index in range(3):
        other = make_project(f"more-{index}")
        make_member(other, user=member)
        for name in ("development", "production"):
            generation(make_environment(other, name), hours_ago=index + 1, status=FAILED)

    assert queries() == few


def test_sqlite_percentiles_read_a_bounded_sample_of_the_newest(project, member, monkeypatch):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL computes percentiles in the database over every row")
    monkeypatch.setattr(usage_selectors, "LATENCY_SAMPLE_LIMIT", 2)
    environment = make_environment(project, "production")
    for latency in (1000, 10, 20):  # created in this order; the first is the oldest row
        generation(environment, hours_ago=1, latency=latency)

    report = usage(member, UsageFilters(period="24h"), now=NOW)

    assert report.buckets[-2].stats.p95_seconds == pytest.approx(19.5)
