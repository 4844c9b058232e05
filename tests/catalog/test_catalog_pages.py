import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from governance.catalog.catalog_page import lifecycle_timeline
from governance.catalog.models import Alias, Snapshot
from governance.catalog.services import load_pack, read_pack, repoint_alias
from governance.projects.models import Role
from tests.factories import NEW, OLD, SYSTEM, make_member, make_project, make_user, simulator_provider

pytestmark = pytest.mark.django_db

PRO = "sora-2-pro-2025-10-06"


@pytest.fixture
def catalog_client(client):
    simulator_provider()
    client.force_login(make_user())
    return client


def snapshot(name: str) -> Snapshot:
    return Snapshot.objects.get(provider=simulator_provider(), name=name)


def catalog_page(client, **params) -> str:
    response = client.get(reverse("catalog:catalog"), params)
    assert response.status_code == 200
    return response.content.decode()


def comparison_row(page: str, label: str) -> str:
    """The comparison table's row for a capability, as HTML."""
    table = page[page.index('<div id="comparison"') :]
    start = table.index(f'<th scope="row">{label}')
    return table[start : table.index("</tr>", start)]


def test_any_signed_in_user_sees_every_snapshot_with_its_lifecycle(catalog_client):
    page = catalog_page(catalog_client)

    for name in (OLD, NEW, PRO):
        assert f"<code>{name}</code>" in page
    assert '<span class="badge badge-active">Active</span>' in page
    assert "<code>sora-2</code> → <code>sora-2-2025-12-08</code>" in page


def test_a_deprecated_snapshot_shows_days_left_and_its_replacement(catalog_client):
    Snapshot.objects.filter(pk=snapshot(OLD).pk).update(
        deprecated_on=dt.date(2026, 3, 1), shutdown_on=dt.date(2026, 4, 1), replacement=snapshot(NEW)
    )

    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        page = catalog_page(catalog_client)

    assert "Deprecated · 12 days left" in page
    row = page[page.index(f'<th scope="row"><code>{OLD}</code>') :]
    assert f"<td><code>{NEW}</code></td>" in row[: row.index("</tr>")]


def test_a_shut_down_snapshot_says_since_when(catalog_client):
    Snapshot.objects.filter(pk=snapshot(OLD).pk).update(
        deprecated_on=dt.date(2026, 3, 1), shutdown_on=dt.date(2026, 4, 1)
    )

    with time_machine.travel(dt.datetime(2026, 5, 1, tzinfo=dt.UTC), tick=False):
        page = catalog_page(catalog_client)

    assert '<span class="badge badge-shut_down">Shut down since 2026-04-01</span>' in page


def test_the_comparison_opens_on_the_first_two_snapshots(catalog_client):
    page = catalog_page(catalog_client)

    assert f"{OLD} compared with {NEW}" in page


def test_comparing_two_snapshots_marks_the_rows_that_differ(catalog_client):
    page = catalog_page(catalog_client, a=snapshot(OLD).pk, b=snapshot(PRO).pk)

    assert f"{OLD} compared with {PRO}" in page
    sizes = comparison_row(page, "Sizes")
    assert "differs" in sizes
    assert '<mark title="only in this snapshot">1920x1080</mark>' in sizes
    assert "Price at 1920x1080" in page
    assert "not offered" in page
    assert "$0.70/s" in page


def test_features_only_one_snapshot_has_are_highlighted(catalog_client):
    page = catalog_page(catalog_client, a=snapshot(OLD).pk, b=snapshot(NEW).pk)

    features = comparison_row(page, "Features")
    assert '<mark title="only in this snapshot">storyboards</mark>' in features
    assert "<mark" not in features.split("<td>")[1]  # the older snapshot has nothing the newer lacks
    assert "differs" in comparison_row(page, "Durations (seconds)")
    assert "differs" not in comparison_row(page, "Sizes")


def test_a_snapshot_compared_with_itself_has_no_differences(catalog_client):
    page = catalog_page(catalog_client, a=snapshot(NEW).pk, b=snapshot(NEW).pk)

    assert "No differences" in page
    assert 'class="differs"' not in page


def test_htmx_gets_only_the_comparison(catalog_client):
    response = catalog_client.get(
        reverse("catalog:catalog"), {"a": snapshot(OLD).key, "b": snapshot(PRO).key}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="comparison"')
    assert "<html" not in body and "Alias history" not in body
    assert f"{OLD} compared with {PRO}" in body
    assert "HX-Request" in response["Vary"]


def test_a_comparison_link_names_its_snapshots_by_provider_and_name(catalog_client):
    page = catalog_page(catalog_client, a=f"simulator:{OLD}", b=snapshot(PRO).key)

    assert f"{OLD} compared with {PRO}" in page
    assert f'<option value="simulator:{OLD}" selected>' in page


def test_an_older_link_by_database_id_still_compares(catalog_client):
    page = catalog_page(catalog_client, a=snapshot(OLD).pk, b=snapshot(PRO).pk)

    assert f"{OLD} compared with {PRO}" in page


def test_an_unknown_snapshot_key_asks_to_choose_again(catalog_client):
    page = catalog_page(catalog_client, a="simulator:sora-9", b=snapshot(NEW).key)

    assert "Choose two snapshots from the lists." in page


def test_an_unknown_snapshot_id_asks_to_choose_again(catalog_client):
    page = catalog_page(catalog_client, a=999_999, b=snapshot(NEW).pk)

    assert "Choose two snapshots from the lists." in page


def test_alias_history_lists_every_repoint_with_who_and_why(catalog_client):
    alias = Alias.objects.get(provider=simulator_provider(), name="sora-2")
    repoint_alias(provider=alias.provider, name="sora-2", snapshot=snapshot(OLD), actor=SYSTEM, reason="rollback")

    page = catalog_page(catalog_client)

    history = page[page.index("Alias history</h2>") :]
    assert f"<code>{NEW}</code> → <code>{OLD}</code>" in history
    assert "rollback" in history
    assert SYSTEM.label in history
    assert "(new alias)" in history  # the pack's first pointing


def test_the_timeline_draws_each_phase_and_today(catalog_client):
    Snapshot.objects.filter(pk=snapshot(OLD).pk).update(
        deprecated_on=dt.date(2026, 3, 1), shutdown_on=dt.date(2026, 4, 1)
    )

    with time_machine.travel(dt.datetime(2026, 3, 20, tzinfo=dt.UTC), tick=False):
        page = catalog_page(catalog_client)

    assert 'role="img"' in page
    assert f"{OLD}: released 2025-10-06, deprecated 2026-03-01, shut down 2026-04-01" in page
    for phase in ("active", "deprecated", "shut_down"):
        assert f'class="phase phase-{phase}"' in page
    assert '<line class="today"' in page


def test_timeline_bars_follow_the_dates():
    simulator_provider()
    old = snapshot(OLD)
    old.deprecated_on, old.shutdown_on = dt.date(2026, 3, 1), dt.date(2026, 4, 1)

    timeline = lifecycle_timeline([old, snapshot(NEW)], dt.date(2026, 3, 20))

    active, deprecated, shut_down = timeline.rows[0].bars
    assert active.x + active.width == pytest.approx(deprecated.x)
    assert deprecated.x + deprecated.width == pytest.approx(shut_down.x)
    assert deprecated.x < timeline.today_x < shut_down.x
    assert [bar.phase for bar in timeline.rows[1].bars] == ["active"]


def test_the_catalog_needs_no_project_membership_but_a_sign_in(client):
    assert client.get(reverse("catalog:catalog")).status_code == 302
    client.force_login(make_member(make_project(), Role.VIEWER))
    assert client.get(reverse("catalog:catalog")).status_code == 200


def test_an_empty_catalog_says_how_to_load_one(client):
    client.force_login(make_user())

    page = catalog_page(client)

    assert "The catalog is empty" in page
    assert "There are no snapshots to compare yet." in page


def test_each_compared_column_names_its_provider(catalog_client):
    page = catalog_page(catalog_client, a=f"simulator:{OLD}", b=snapshot(PRO).key)

    provider = simulator_provider().name
    assert f'<code>{OLD}</code><br><span class="muted">{provider}</span></th>' in page
    assert f'<code>{PRO}</code><br><span class="muted">{provider}</span></th>' in page


def test_each_provider_says_whether_it_is_live_simulated_or_not_configured_and_where_its_facts_come_from(
    catalog_client, monkeypatch, settings
):
    for pack in ("runway", "azure-openai", "xai"):
        load_pack(read_pack(pack), actor=SYSTEM)
    monkeypatch.setenv("XAI_API_KEY", "xai-key-for-the-page-1234")
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)

    page = catalog_page(catalog_client)

    runway = page[page.index('data-testid="connection-runway"') :]
    assert "Simulated" in runway[:400] and "set <code>RUNWAYML_API_SECRET</code>" in runway[:400]
    azure = page[page.index('data-testid="connection-azure-openai"') :]
    assert "and <code>AZURE_OPENAI_BASE_URL</code> (its own resource's URL)" in azure[:500]
    xai = page[page.index('data-testid="connection-xai"') :]
    assert "Live" in xai[:300] and "https://api.x.ai" in xai[:300]
    assert "xAI does not list its models' lifecycle over its API: the catalog pack is the source" in page
    assert 'href="https://docs.dev.runwayml.com' in page  # the pack's sources, linked

    settings.SIMULATOR_ENABLED = False
    page = catalog_page(catalog_client)
    runway = page[page.index('data-testid="connection-runway"') :]
    assert "Not configured" in runway[:400] and "set RUNWAYML_API_SECRET to call it" in runway[:400]
