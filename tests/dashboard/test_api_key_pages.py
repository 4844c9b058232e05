import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.infra import sent_forms
from governance.projects.models import ApiKey, Role, hash_api_key
from tests.dashboard.project_fixtures import Shop, make_shop
from tests.factories import make_api_key, make_environment, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def create_url(environment="staging"):
    return reverse("dashboard:api_key_create", args=["shop", environment])


def revoke_url(key: ApiKey, slug="shop"):
    return reverse("dashboard:api_key_revoke", args=[slug, key.pk])


def key_from(raw_key: str) -> ApiKey:
    return ApiKey.objects.get(key_hash=hash_api_key(raw_key))


def test_an_admin_creates_a_key_and_sees_it_once(client, shop):
    client.force_login(shop.users[Role.ADMIN])

    response = client.post(create_url(), {"name": "checkout service"})

    api_key = ApiKey.objects.get(name="checkout service")
    page = response.content.decode()
    raw_key = page.split('id="raw-key" class="raw-key" value="')[1].split('"')[0]
    assert response.status_code == 200
    assert key_from(raw_key) == api_key
    assert api_key.environment == shop.staging and api_key.created_by == shop.users[Role.ADMIN]
    assert "shown only this once" in page
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="api_key.created", actor_label=shop.users[Role.ADMIN].username).exists()
    again = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()
    assert raw_key not in again and api_key.prefix in again


def test_a_key_needs_a_name(client, shop):
    client.force_login(shop.users[Role.ADMIN])

    response = client.post(create_url(), {"name": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.filter(environment=shop.staging).exists()


def test_revoking_asks_first_then_revokes_and_audits(client, shop):
    api_key = key_from(make_api_key(shop.staging))
    client.force_login(shop.users[Role.ADMIN])

    confirmation = client.get(revoke_url(api_key)).content.decode()
    response = client.post(revoke_url(api_key), follow=True)

    assert "This cannot be undone" in confirmation
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert "It no longer works" in response.content.decode()
    assert AuditEvent.objects.filter(action="api_key.revoked").exists()


def test_another_projects_key_cannot_be_revoked_through_this_one(client, shop):
    foreign = key_from(make_api_key(make_environment(make_project("other"))))
    client.force_login(shop.users[Role.ADMIN])

    assert client.post(revoke_url(foreign)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER])
def test_members_below_admin_cannot_create_or_revoke_keys(client, shop, role):
    api_key = key_from(make_api_key(shop.staging))
    client.force_login(shop.users[role])

    created = client.post(create_url(), {"name": "sneaky"})
    revoked = client.post(revoke_url(api_key))

    assert (created.status_code, revoked.status_code) == (403, 403)
    assert not ApiKey.objects.filter(name="sneaky").exists()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_strangers_cannot_create_keys(client, shop):
    client.force_login(make_user())

    assert client.post(create_url(), {"name": "sneaky"}).status_code == 404
    assert not ApiKey.objects.filter(name="sneaky").exists()


def test_creating_a_key_needs_csrf(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.users[Role.ADMIN])

    assert client.post(create_url(), {"name": "no token"}).status_code == 403
    assert not ApiKey.objects.filter(name="no token").exists()


@pytest.mark.parametrize("reader, sees_keys", [("viewer", False), ("developer", True), ("auditor", True)])
def test_key_metadata_is_read_by_developers_and_site_wide_auditors_but_not_viewers(client, shop, reader, sees_keys):
    from django.contrib.auth.models import Group

    from governance.projects.models import AUDITOR_GROUP

    make_api_key(shop.staging)
    if reader == "auditor":
        user = make_user()
        user.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    else:
        user = shop.users[reader]
    client.force_login(user)
    page = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()
    assert ("test key" in page) is sees_keys


def test_sending_the_create_form_again_makes_no_second_key(client, shop):
    """Reloading the page that showed the new key resends the form: the browser asks, people say yes."""
    client.force_login(shop.users[Role.ADMIN])
    form = client.get(create_url()).content.decode()
    token = form.split('name="form_token" value="')[1].split('"')[0]
    first = client.post(create_url(), {"name": "checkout service", "form_token": token})
    raw_key = first.content.decode().split('id="raw-key" class="raw-key" value="')[1].split('"')[0]

    again = client.post(create_url(), {"name": "checkout service", "form_token": token}, follow=True)

    assert ApiKey.objects.filter(environment=shop.staging).count() == 1
    page = again.content.decode()
    assert again.redirect_chain[-1][0].endswith("/projects/shop/#keys-staging")
    assert "was created when this form was first sent" in page
    assert key_from(raw_key).prefix in page and raw_key not in page
    another = client.get(create_url()).content.decode().split('name="form_token" value="')[1].split('"')[0]
    assert another != token
    client.post(create_url(), {"name": "billing", "form_token": another})
    assert ApiKey.objects.filter(environment=shop.staging).count() == 2


def test_a_double_click_on_create_makes_one_key(client, shop):
    """Two sendings at once: the second arrives while the first is still making its key."""
    admin = shop.users[Role.ADMIN]
    client.force_login(admin)
    token = client.get(create_url()).content.decode().split('name="form_token" value="')[1].split('"')[0]
    first_sending = RequestFactory().post(create_url())
    first_sending.user = admin
    assert sent_forms.claim(first_sending, "api_key", token) is None  # the first click, still at work

    second = client.post(create_url(), {"name": "checkout service", "form_token": token}, follow=True)

    assert not ApiKey.objects.filter(environment=shop.staging, name="checkout service").exists()
    assert "This form was sent twice; only one key is made, by the first sending." in second.content.decode()
