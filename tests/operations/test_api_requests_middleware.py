"""The dashboard's middleware (sessions, users, messages, CSP, htmx) runs for pages; the APIs' requests leave before it,
with the request id and the security headers every response keeps."""

import pytest

from tests.factories import make_api_key, make_environment, make_project

pytestmark = pytest.mark.django_db

API_POLICY = "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture
def key():
    return make_api_key(make_environment(make_project("demo"), "development"))


@pytest.mark.parametrize("path", ["/v1/models", "/v1/no-such-thing"])
def test_an_api_request_gets_no_user_messages_or_page_policy(client, key, path):
    response = client.get(path, headers={"Authorization": f"Bearer {key}"})

    request = response.wsgi_request
    assert not hasattr(request, "user") and not hasattr(request, "htmx") and not hasattr(request, "_messages")
    assert not hasattr(request, "session") and "X-Request-ID" in response
    assert response["Content-Security-Policy"] == API_POLICY
    assert "Cookie" not in response.get("Vary", "") and not response.cookies
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_a_management_api_request_leaves_before_the_dashboards_middleware_too(client):
    response = client.get("/api/v1/no-such-thing", headers={"Authorization": "Bearer not-a-token"})

    request = response.wsgi_request
    assert not hasattr(request, "user") and not hasattr(request, "session") and not hasattr(request, "htmx")
    assert not response.cookies and "X-Request-ID" in response
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_a_page_still_gets_them(client):
    response = client.get("/login/")

    request = response.wsgi_request
    assert hasattr(request, "user") and hasattr(request, "htmx") and hasattr(request, "_messages")
    assert "default-src 'self'" in response["Content-Security-Policy"]
