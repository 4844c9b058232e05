import json
from typing import Any

import pytest
from django.test import Client

from governance.audit.services import Actor
from governance.management_api.tokens import create_access_token
from governance.projects.models import Role
from tests.factories import NEW, OLD, make_environment, make_member, make_project

TESTS = Actor.system("tests")


class TokenApi:
    """The management API as a client with one personal access token sees it."""

    def __init__(self, token: str | None, client: Client | None = None):
        self.token = token
        self.client = client or Client()

    def _headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(f"/api/v1/{path}", params or {}, **self._headers())

    def send(self, method: str, path: str, body: Any = None):
        data = json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(f"/api/v1/{path}", data, content_type="application/json", **self._headers())

    def post(self, path: str, body: Any = None):
        return self.send("post", path, body)

    def put(self, path: str, body: Any = None):
        return self.send("put", path, body)

    def patch(self, path: str, body: Any = None):
        return self.send("patch", path, body)

    def delete(self, path: str):
        return self.client.delete(f"/api/v1/{path}", **self._headers())

    def upload(self, path: str, files: dict, fields: dict | None = None):
        return self.client.post(f"/api/v1/{path}", {**(fields or {}), **files}, **self._headers())


def token_of(user, *, projects=(), name: str = "test token") -> str:
    _, raw_token = create_access_token(user=user, name=name, projects=projects, actor=TESTS)
    return raw_token


def api_as(user, **scope) -> TokenApi:
    return TokenApi(token_of(user, **scope))


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["error"]


@pytest.fixture
def project(db):
    return make_project("shop")


@pytest.fixture
def production(project):
    return make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )


@pytest.fixture
def staging(project):
    return make_environment(project, "staging", default_model=OLD, allowed_snapshots=[OLD, NEW])


@pytest.fixture
def people(project):
    return {role: make_member(project, role) for role in (Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN)}
