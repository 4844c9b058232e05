import pytest
from django.test import Client

from tests.factories import NEW, OLD, make_api_key, make_environment, make_project


class Api:
    """The Videos API as a client with a key sees it."""

    def __init__(self, key: str):
        self.client = Client()
        self.key = key

    def _headers(self, headers):
        return {
            "HTTP_AUTHORIZATION": f"Bearer {self.key}",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
        }

    def post(self, path, data=None, *, json=True, headers=None):
        if json:
            return self.client.post(
                f"/v1/{path}", data or {}, content_type="application/json", **self._headers(headers)
            )
        return self.client.post(f"/v1/{path}", data or {}, **self._headers(headers))

    def get(self, path, params=None, headers=None):
        return self.client.get(f"/v1/{path}", params or {}, **self._headers(headers))

    def delete(self, path):
        return self.client.delete(f"/v1/{path}", **self._headers(None))


@pytest.fixture
def project(db):
    return make_project("shop")


@pytest.fixture
def production(project):
    """Pinned to the older snapshot, alias requests refused."""
    return make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse")


@pytest.fixture
def development(project):
    """Follows the alias `sora-2`, both snapshots allowed."""
    return make_environment(
        project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow"
    )


@pytest.fixture
def api(production) -> Api:
    return Api(make_api_key(production))


@pytest.fixture
def dev_api(development) -> Api:
    return Api(make_api_key(development))
