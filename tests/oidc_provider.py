"""A real OpenID provider for the single sign-on tests: tests/oidc/provider.mjs, run by Node.

It is the certified `oidc-provider` package from the npm registry, which `make test` installs
(`npm ci --prefix tests/oidc`). Where Node or the package is missing the tests that need it skip,
saying how to install it, except in CI (REQUIRE_BROWSER_TESTS=1), where they fail.

Its users live in a JSON file that it reads again at every look-up: a test changes someone's groups,
or takes them out, by rewriting the file, as an administrator would at the company's provider.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from governance.sso import access_tokens
from governance.sso.models import SsoIdentity
from governance.sso.provider import forget_discovery
from tests.conftest import ROOT

OIDC_DIR = ROOT / "tests" / "oidc"
CLIENT_ID = "governance-tests"
CLIENT_SECRET = "a-client-secret-for-the-tests-only"
PROVIDER_NAME = "Local IdP"
TEST_CLIENT_CALLBACK = "http://testserver/oidc/callback/"


@dataclass
class LocalProvider:
    issuer: str
    users_file: Path

    def users(self) -> dict:
        return json.loads(self.users_file.read_text())

    def save(self, users: dict) -> None:
        self.users_file.write_text(json.dumps(users, indent=2))

    def add_user(self, login: str, *, groups: list[str], sub: str | None = None, email: str | None = None) -> None:
        users = self.users()
        users[login] = {
            "sub": sub or f"sub-{login}-0001",
            "password": f"{login}-password",
            "name": login.title(),
            "email": email or f"{login}@example.test",
            "groups": groups,
        }
        self.save(users)

    def set_groups(self, login: str, groups: list[str]) -> None:
        users = self.users()
        users[login]["groups"] = groups
        self.save(users)

    def remove_user(self, login: str) -> None:
        users = self.users()
        del users[login]
        self.save(users)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_and_package() -> str:
    node = shutil.which("node")
    if node and (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return node
    message = (
        "The single sign-on tests need Node.js and the oidc-provider package: "
        "`make test` installs it (npm ci --prefix tests/oidc)"
    )
    if os.environ.get("REQUIRE_BROWSER_TESTS"):
        pytest.fail(message + ", and CI must run these tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def oidc_provider_process(live_server, tmp_path_factory):
    """The provider, on a free port, for the whole run; its client calls back to the test client and the live server."""
    node = _node_and_package()
    port = _free_port()
    users_file = tmp_path_factory.mktemp("oidc") / "users.json"
    users_file.write_text("{}")
    log_path = users_file.with_name("provider.log")
    env = {
        **os.environ,
        "PORT": str(port),
        "USERS_FILE": str(users_file),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": f"{TEST_CLIENT_CALLBACK},{live_server.url}/oidc/callback/",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [node, str(OIDC_DIR / "provider.mjs")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while b"listening on" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("The OpenID provider did not start:\n" + log_path.read_text(errors="replace"))
        time.sleep(0.1)
    yield LocalProvider(issuer=issuer, users_file=users_file)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def oidc_provider(oidc_provider_process, settings):
    """The provider with no users yet, and this server signing in with it (no role mappings yet)."""
    provider = oidc_provider_process
    provider.save({})
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_ROLE_MAP = ""
    forget_discovery()
    yield provider
    forget_discovery()
    # The access tokens this test's sign-ins kept: a later test's rows may reuse these ids.
    for identity_id in SsoIdentity.objects.values_list("pk", flat=True):
        access_tokens.forget(identity_id=identity_id)


def sign_in_through_provider(client, login: str, password: str | None = None, *, start: str = "/oidc/start/"):
    """A whole sign-in with Django's test client on our side and httpx as the browser at the provider.

    Follows the provider's redirects, fills its sign-in form and allows its consent form, and brings the
    code back to our callback. Returns our callback's response.
    """
    response = client.get(start)
    assert response.status_code == 302, response
    url = response["Location"]
    with httpx.Client(timeout=10) as browser:
        for _ in range(12):
            if url.startswith("http://testserver/"):
                parts = urlsplit(url)
                return client.get(f"{parts.path}?{parts.query}")
            answer = browser.get(url)
            if answer.status_code == 200:
                answer = _fill_in(browser, answer, login, password or f"{login}-password")
            assert answer.status_code in (302, 303), answer.text
            url = urljoin(str(answer.url), answer.headers["location"])
    raise AssertionError("The sign-in never came back from the provider")


def _fill_in(browser: httpx.Client, page: httpx.Response, login: str, password: str) -> httpx.Response:
    action = re.search(r'<form method="post" action="([^"]+/(?:login|confirm))"', page.text)
    assert action, page.text
    target = urljoin(str(page.url), action.group(1))
    if target.endswith("/login"):
        return browser.post(target, data={"login": login, "password": password})
    return browser.post(target)
