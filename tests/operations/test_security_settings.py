"""Production settings pass `check --deploy`; every page carries the security headers."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.factories import make_user

PRODUCTION = {
    "SECRET_KEY": "k3y-for-the-deploy-check-" + "x7Qp2Lm9Zr4Tw8Yb6Nc1Vd5Hf3Jg0Ks" * 2,
    "ALLOWED_HOSTS": "governance.example.com",
    "DATABASE_URL": "postgres://governance@db.internal:5432/governance",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
    "BEHIND_TLS_PROXY": "1",
    "METRICS_TOKEN": "scrape-token",
}


def check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (tests/browser/conftest.py), never production's;
    # the test run's owner login (MIGRATE_DATABASE_URL, in CI) names its database, not PRODUCTION's.
    test_only = {"DEBUG", "SIMULATOR_ENABLED", "DJANGO_ALLOW_ASYNC_UNSAFE", "MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE"}
    env = {name: value for name, value in os.environ.items() if name not in test_only}
    env.update(PRODUCTION, GOVERNANCE_DATA_DIR=str(tmp_path), **overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_check_deploy_without_a_warning(tmp_path):
    result = check_deploy(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "warning"),
    [
        ({"SIMULATOR_ENABLED": "1"}, "governance.W001"),
        ({"METRICS_TOKEN": ""}, "governance.W002"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_COOKIES": "0"}, "security.W012"),
    ],
)
def test_check_deploy_names_what_production_is_missing(tmp_path, override, warning):
    result = check_deploy(tmp_path, **override)

    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client):
    client.force_login(make_user())

    response = client.get("/")

    policy = dict(directive.strip().split(" ", 1) for directive in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_api_answers_carry_a_policy_that_allows_nothing(client):
    response = client.get("/v1/models")  # refused without a key, and still an API answer

    assert response.status_code == 401
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_hsts_is_sent_over_tls_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000

    assert "Strict-Transport-Security" not in client.get("/login/")
    assert client.get("/login/", secure=True)["Strict-Transport-Security"].startswith("max-age=31536000")
