import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.catalog.models import Snapshot
from governance.catalog.services import load_pack, read_pack
from governance.projects.models import Role
from tests.dashboard.project_fixtures import Shop, make_shop
from tests.factories import NEW, OLD, SYSTEM, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def editor_url(environment="staging"):
    return reverse("policies:policy_editor", args=["shop", environment])


def policy_post(**changes):
    data = {
        "default_model": OLD,
        "allowed_snapshots": [OLD, NEW],
        "alias_requests": "refuse",
        "canary_snapshot": "",
        "canary_percent": "0",
        "max_seconds": "",
        "monthly_budget": "",
        "reason": "tightening staging",
    }
    data.update(changes)
    return data


def as_admin(client, shop):
    client.force_login(shop.users[Role.ADMIN])
    return client


def test_admins_see_the_form_filled_with_the_current_policy(client, shop):
    page = as_admin(client, shop).get(editor_url()).content.decode()

    assert "Write revision 2" in page
    assert f'value="{OLD}" selected' in page or f'<option value="{OLD}" selected>' in page
    assert 'name="reason"' in page


def test_a_save_writes_a_new_revision_and_shows_its_diff(client, shop):
    client = as_admin(client, shop)

    response = client.post(editor_url(), policy_post(default_model=NEW, reason="december is faster"), follow=True)

    page = response.content.decode()
    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert (revision.number, revision.default_model, revision.reason) == (2, NEW, "december is faster")
    assert revision.created_by == shop.users[Role.ADMIN]
    assert "Saved as revision 2" in page
    assert f"<del>{OLD}</del>" in page and f"<ins>{NEW}</ins>" in page
    event = AuditEvent.objects.filter(action="policy.revised").latest("sequence")
    assert event.actor_label == shop.users[Role.ADMIN].username
    assert event.payload["reason"] == "december is faster"


def test_limits_and_budget_are_saved(client, shop):
    as_admin(client, shop).post(
        editor_url(),
        policy_post(
            max_seconds="8", allowed_sizes=["720x1280"], allowed_features=["image_reference"], monthly_budget="99.50"
        ),
    )

    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert revision.max_seconds == 8
    assert revision.allowed_sizes == ["720x1280"]
    assert revision.allowed_features == ["image_reference"]
    assert str(revision.monthly_budget) == "99.50"


def test_a_canary_is_saved(client, shop):
    as_admin(client, shop).post(
        editor_url(), policy_post(allowed_snapshots=[OLD], canary_snapshot=NEW, canary_percent="10")
    )

    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert (revision.canary_snapshot, revision.canary_percent) == (NEW, 10)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"reason": ""}, "Say why the policy changes"),
        ({"allowed_snapshots": [NEW]}, f"The pinned snapshot &#x27;{OLD}&#x27; must be among the allowed snapshots."),
        ({"canary_percent": "150", "canary_snapshot": NEW}, "The canary share is between 0 and 100%."),
        ({"canary_percent": "10"}, "A canary percentage needs a canary snapshot."),
        ({"canary_snapshot": OLD}, "The canary must differ from the pinned snapshot."),
        (
            {"allowed_snapshots": [OLD, "sora-9"]},
            "&#x27;sora-9&#x27; is not a snapshot in this provider&#x27;s catalog.",
        ),
        ({"default_model": "sora-9"}, "neither a snapshot nor an alias"),
    ],
)
def test_invalid_policies_are_refused_readably(client, shop, changes, message):
    response = as_admin(client, shop).post(editor_url(), policy_post(**changes))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Not saved" in response.content.decode()
    assert shop.staging.policy_revisions.count() == 1


def test_a_shut_down_snapshot_cannot_be_allowed(client, shop):
    Snapshot.objects.filter(name=NEW).update(shutdown_on=dt.date(2020, 1, 1))

    response = as_admin(client, shop).post(editor_url(), policy_post())

    assert response.status_code == 400
    assert f"{NEW} was shut down on 2020-01-01" in response.content.decode()
    assert shop.staging.policy_revisions.count() == 1


def test_a_protected_environment_is_shown_read_only_with_a_way_to_migrate(client, shop):
    page = as_admin(client, shop).get(editor_url("production")).content.decode()

    assert "This environment is protected" in page
    assert "Start a migration" in page
    assert "/projects/shop/migrations/new/?environment=production" in page
    assert 'name="reason"' not in page
    assert f"Production runs only {OLD}" in page


def test_a_direct_post_to_a_protected_environment_is_refused_and_audited(client, shop):
    response = as_admin(client, shop).post(editor_url("production"), policy_post(default_model=NEW))

    assert response.status_code == 403
    assert "Not saved: shop/production is protected" in response.content.decode()
    assert shop.production.policy_revisions.count() == 1
    event = AuditEvent.objects.filter(action="auth.refused").latest("sequence")
    assert event.environment_id == shop.production.pk
    assert "protected" in event.payload["reason"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER])
@pytest.mark.parametrize("method", ["get", "post"])
def test_members_below_admin_are_refused_the_editor(client, shop, role, method):
    client.force_login(shop.users[role])

    response = getattr(client, method)(editor_url(), policy_post(default_model=NEW))

    assert response.status_code == 403
    assert "This needs the admin role" in response.content.decode()
    assert shop.staging.policy_revisions.count() == 1
    assert AuditEvent.objects.filter(action="auth.refused", actor_label=shop.users[role].username).exists()


def test_strangers_do_not_learn_the_project_exists(client, shop):
    client.force_login(make_user())

    assert client.post(editor_url(), policy_post(default_model=NEW)).status_code == 404


def test_an_unknown_environment_is_not_found(client, shop):
    assert as_admin(client, shop).get(editor_url("testing")).status_code == 404


def test_the_form_needs_csrf(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.users[Role.ADMIN])

    assert client.post(editor_url(), policy_post(default_model=NEW)).status_code == 403
    assert shop.staging.policy_revisions.count() == 1


def test_an_admin_can_limit_the_operations_of_an_environment(client, shop):
    page = as_admin(client, shop).get(editor_url()).content.decode()
    assert 'name="allowed_operations"' in page and "character (characters)" in page

    client.post(editor_url(), policy_post(allowed_operations=["create", "remix"], reason="no edits in staging"))

    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert revision.allowed_operations == ["create", "remix"]
    assert revision.as_view().allowed_operations == frozenset({"create", "remix"})
    project_page = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()
    assert "Operations: only create and remix." in project_page


def test_an_admin_can_move_an_environment_to_another_providers_snapshot(client, shop):
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    client = as_admin(client, shop)

    page = client.get(editor_url() + "?provider=simulator-lumen").content.decode()
    assert "lumen-1-2026-06-01" in page and "moves Staging from Built-in simulator to Lumen" in page

    post = policy_post(
        provider="simulator-lumen",
        default_model="lumen-1-2026-06-01",
        allowed_snapshots=["lumen-1-2026-06-01"],
        reason="try the other provider",
    )
    response = client.post(editor_url(), post)

    assert response.status_code == 302, response.content.decode()
    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert (revision.provider.slug, revision.default_model) == ("simulator-lumen", "lumen-1-2026-06-01")


def test_an_environment_without_a_policy_gets_its_first_one_from_the_editor(client, shop):
    from governance.projects.models import Environment

    testing = Environment.objects.create(project=shop.project, name="testing")
    admin = as_admin(client, shop)
    assert "Write the first policy" in admin.get(editor_url("testing")).content.decode()
    response = admin.post(
        editor_url("testing"),
        {
            "provider": "simulator",
            "default_model": OLD,
            "allowed_snapshots": [OLD],
            "alias_requests": "refuse",
            "reason": "First policy of testing",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert testing.policy_revisions.get().default_model == OLD


def test_a_canary_may_be_another_providers_snapshot(client, shop):
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    client = as_admin(client, shop)
    page = client.get(editor_url()).content.decode()
    assert '<optgroup label="At Lumen (simulated second provider)">' in page

    response = client.post(
        editor_url(),
        policy_post(canary_snapshot="simulator-lumen:lumen-1-2026-06-01", canary_percent="10", reason="try Lumen"),
        follow=True,
    )

    revision = shop.staging.policy_revisions.order_by("-number").first()
    assert (revision.canary_provider.slug, revision.canary_snapshot, revision.canary_percent) == (
        "simulator-lumen",
        "lumen-1-2026-06-01",
        10,
    )
    assert "A canary sends 10% of requests to lumen-1-2026-06-01 at Lumen (simulated second provider)." in (
        response.content.decode()
    )
    page = client.get(editor_url()).content.decode()
    assert '<option value="simulator-lumen:lumen-1-2026-06-01" selected>' in page
