"""Personal access tokens: made by command or page, shown once, stored hashed, scoped, revocable, audited."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from governance.audit.models import AuditEvent
from governance.management_api.models import AccessToken
from governance.projects import services
from governance.projects.models import Role, hash_api_key
from tests.factories import make_member, make_project, make_user
from tests.management_api.conftest import TokenApi, api_as, error_of

pytestmark = pytest.mark.django_db


def create(*arguments: str) -> str:
    out = io.StringIO()
    call_command("create_access_token", *arguments, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_the_command_prints_the_token_alone_on_its_last_line_and_stores_only_its_hash():
    make_member(make_project("shop"), Role.DEVELOPER, make_user("dana"))

    raw = create("dana", "--name", "release pipeline", "--project", "shop")

    token = AccessToken.objects.get()
    assert raw.startswith("sgp_") and len(raw) > 40
    assert token.token_hash == hash_api_key(raw) and token.prefix == raw[:12]
    assert raw not in str(AccessToken.objects.values().get())
    assert [p.slug for p in token.projects.all()] == ["shop"]
    event = AuditEvent.objects.get(action="access_token.created")
    assert event.payload == {
        "user": "dana",
        "access_token": "release pipeline",
        "prefix": raw[:12],
        "projects": ["shop"],
    }
    assert raw not in str(event.payload)


def test_the_command_refuses_unknown_users_projects_and_projects_the_user_is_not_in():
    make_project("shop")
    make_user("dana")
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        create("nobody", "--name", "x")
    with pytest.raises(CommandError, match="No project has the slug nowhere"):
        create("dana", "--name", "x", "--project", "nowhere")
    with pytest.raises(CommandError, match="dana is not a member of shop"):
        create("dana", "--name", "x", "--project", "shop")


def test_a_token_acts_with_its_users_role_only_in_the_projects_it_names():
    shop, other = make_project("shop"), make_project("other")
    dana = make_member(shop, Role.VIEWER, make_user("dana"))
    make_member(other, Role.ADMIN, dana)
    api = api_as(dana, projects=[shop])

    assert [p["slug"] for p in api.get("projects").json()["data"]] == ["shop"]
    assert api.get("projects/shop").json()["role"] == "viewer"
    refused = api.get("projects/other")
    assert refused.status_code == 403 and error_of(refused)["code"] == "token_scope"
    assert api.get("me").json()["token"]["projects"] == ["shop"]


def test_a_revoked_token_or_a_deactivated_user_is_refused_with_401():
    dana = make_member(make_project("shop"), Role.ADMIN, make_user("dana"))
    raw = create("dana", "--name", "ci")
    assert TokenApi(raw).get("me").status_code == 200

    dana.is_active = False
    dana.save()
    assert TokenApi(raw).get("me").status_code == 401
    dana.is_active = True
    dana.save()

    out = io.StringIO()
    call_command("revoke_access_token", "dana", "--name", "ci", stdout=out)
    response = TokenApi(raw).get("me")
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuditEvent.objects.filter(action="access_token.revoked", payload__access_token="ci").count() == 1


def test_a_session_cookie_never_authenticates_the_api_and_a_token_needs_no_csrf_token():
    dana = make_member(make_project("shop"), Role.ADMIN, make_user("dana"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(dana)

    assert browser.get("/api/v1/projects").status_code == 401
    assert browser.post("/api/v1/inbox/read", "{}", content_type="application/json").status_code == 401
    pipeline = TokenApi(create("dana", "--name", "ci"), client=Client(enforce_csrf_checks=True))
    assert pipeline.post("inbox/read", {}).status_code == 200


def test_an_unknown_token_is_refused_and_audited_by_its_prefix_only():
    services._refused_key_events.clear()  # at most one event per address a minute: start afresh
    response = TokenApi("sgp_not-a-real-token-at-all-000000000000").get("me")

    assert response.status_code == 401
    event = AuditEvent.objects.get(action="auth.refused")
    assert event.actor_label == "management API" and event.payload["key_prefix"] == "sgp_not-a-re"


def test_the_access_tokens_page_shows_a_new_token_once_and_revokes_it():
    shop = make_project("shop")
    dana = make_member(shop, Role.DEVELOPER, make_user("dana"))
    browser = Client()
    browser.force_login(dana)

    page = browser.get("/account/tokens/")
    assert page.status_code == 200 and b"Make token" in page.content
    made = browser.post("/account/tokens/", {"name": "laptop", "projects": [shop.pk]})
    assert made.status_code == 200 and "no-cache" in made["Cache-Control"]
    raw = made.context["raw_token"]
    assert raw.encode() in made.content
    assert raw.encode() not in browser.get("/account/tokens/").content
    assert TokenApi(raw).get("projects/shop").status_code == 200

    token = AccessToken.objects.get()
    assert browser.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert TokenApi(raw).get("projects/shop").status_code == 401
    assert AuditEvent.objects.get(action="access_token.revoked").actor_label == "dana"


def test_nobody_revokes_another_users_token():
    shop = make_project("shop")
    dana, erin = make_member(shop, Role.ADMIN, make_user("dana")), make_member(shop, Role.ADMIN, make_user("erin"))
    api_as(dana)
    browser = Client()
    browser.force_login(erin)

    assert browser.post(f"/account/tokens/{AccessToken.objects.get().pk}/revoke/").status_code == 404
    assert not AccessToken.objects.get().is_revoked


def test_an_action_needs_no_body_whatever_content_type_the_client_names():
    make_member(make_project("shop"), Role.ADMIN, make_user("dana"))
    api = TokenApi(create("dana", "--name", "ci"))

    response = api.client.post(
        "/api/v1/inbox/read", b"", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )

    assert response.status_code == 200 and response.json() == {"marked": 0}
