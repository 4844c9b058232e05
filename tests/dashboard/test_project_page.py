import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.audit.services import Actor
from governance.policies.models import BudgetUsage
from governance.policies.selectors import month_start
from governance.projects.models import Role
from governance.projects.services import revoke_api_key
from tests.dashboard.project_fixtures import Shop, make_shop
from tests.factories import NEW, OLD, make_api_key, make_environment, make_user, revise

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def project_page(client, user, slug="shop"):
    client.force_login(user)
    return client.get(reverse("dashboard:project_detail", args=[slug]))


def test_the_project_list_shows_each_project_with_the_users_role(client, shop):
    client.force_login(shop.users[Role.DEVELOPER])

    page = client.get(reverse("dashboard:project_list")).content.decode()

    assert reverse("dashboard:project_detail", args=["shop"]) in page
    assert "developer" in page
    assert "protected" in page


def test_the_project_list_has_an_empty_state(client, shop):
    client.force_login(make_user())

    page = client.get(reverse("dashboard:project_list")).content.decode()

    assert "not a member of any project" in page


def test_it_says_each_environments_policy_in_plain_words(client, shop):
    page = project_page(client, shop.users[Role.VIEWER]).content.decode()

    assert f"Production runs only {OLD}; requests for an alias are refused." in page
    assert f"Staging runs {OLD} by default; requests may also name {NEW}" in page
    assert "Protected: changes need an approved migration plan" in page


def test_it_describes_canary_limits_and_budget(client, shop):
    revise(
        shop.staging,
        canary_snapshot=NEW,
        canary_percent=10,
        allowed_snapshots=[OLD],
        max_seconds=8,
        allowed_sizes=["720x1280"],
        monthly_budget="250.00",
    )

    page = project_page(client, shop.users[Role.VIEWER]).content.decode()

    assert f"A canary sends 10% of requests to {NEW}." in page
    assert "Videos of at most 8 seconds, sizes 720x1280, any feature." in page
    assert "$0.00 of $250.00 spent this month (0%)" in page


def test_it_lists_the_revision_history_with_who_and_why(client, shop):
    admin = shop.users[Role.ADMIN]
    revise(shop.staging, allowed_snapshots=[OLD], reason="new snapshot failed our prompt tests")

    page = project_page(client, admin).content.decode()

    assert "new snapshot failed our prompt tests" in page
    assert "Revision history (2)" in page
    assert "Allowed snapshots" in page  # what revision 2 changed


def test_a_project_the_user_is_not_in_is_not_found(client, shop):
    assert project_page(client, make_user()).status_code == 404


def test_viewers_do_not_see_api_keys(client, shop):
    raw_key = make_api_key(shop.staging)

    page = project_page(client, shop.users[Role.VIEWER]).content.decode()

    assert raw_key[:12] not in page
    assert "API keys of" not in page


def test_developers_read_key_metadata_but_not_the_secret(client, shop):
    raw_key = make_api_key(shop.staging)
    revoked_key = make_api_key(shop.staging)
    revoke_api_key(api_key=shop.staging.api_keys.get(prefix=revoked_key[:12]), actor=Actor.system("tests"))

    page = project_page(client, shop.users[Role.DEVELOPER]).content.decode()

    assert raw_key[:12] in page
    assert raw_key not in page
    assert "revoked" in page
    assert "never" in page  # last used
    assert "Create an API key" not in page
    assert "Revoke" not in page


def test_admins_get_the_edit_and_key_controls(client, shop):
    make_api_key(shop.staging)

    page = project_page(client, shop.users[Role.ADMIN]).content.decode()

    assert reverse("policies:policy_editor", args=["shop", "staging"]) in page
    assert "Create an API key" in page
    assert "Revoke" in page
    assert "Add a member" in page


def test_the_page_answers_in_a_fixed_number_of_queries(client, shop, django_assert_max_num_queries):
    for _ in range(5):
        revise(shop.staging, reason="churn", max_seconds=8)
        make_api_key(shop.staging)
    client.force_login(shop.users[Role.ADMIN])

    with django_assert_max_num_queries(25):
        client.get(reverse("dashboard:project_detail", args=["shop"]))


def test_the_catalog_is_read_once_for_the_page_not_once_per_environment(client, shop):
    client.force_login(shop.users[Role.VIEWER])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("dashboard:project_detail", args=["shop"]))
        return len(captured)

    two_environments = queries()
    for name in ("development", "testing"):
        make_environment(shop.project, name)

    assert queries() == two_environments


def test_it_shows_this_months_spend_against_the_budget(client, shop):
    revise(shop.staging, monthly_budget="200.00")
    BudgetUsage.objects.create(environment=shop.staging, month=month_start(timezone.now()), spent="50.00")

    page = project_page(client, shop.users[Role.VIEWER]).content.decode()

    assert "$50.00 of $200.00 spent this month (25%)" in page


def test_a_zero_budget_reads_as_all_spent(client, shop):
    revise(shop.staging, monthly_budget="0.00")

    page = project_page(client, shop.users[Role.VIEWER]).content.decode()

    assert "$0.00 of $0.00 spent this month (100%)" in page
