"""Production settings pass `check --deploy`; every page carries the security headers."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from governance.demo.users import DEMO_PASSWORD
from tests.conftest import ROOT, application_environment
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


def start_with(tmp_path, *command: str, **overrides) -> subprocess.CompletedProcess:
    """A process of ours (`manage.py check`, the WSGI application) started on production settings."""
    env = {
        name: value
        for name, value in application_environment(os.environ).items()
        if name not in {"DEBUG", "SIMULATOR_ENABLED"}
    }
    env.update(PRODUCTION, GOVERNANCE_DATA_DIR=str(tmp_path), **overrides)
    return subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("test-only-secret-key", "it has 20 characters, fewer than 50"),
        ("k" * 49, "it has 49 characters, fewer than 50"),
        ("abcd" * 25, "it uses 4 different characters, fewer than 5"),
    ],
    ids=["short", "one short of 50", "four characters repeated"],
)
@pytest.mark.parametrize("command", [("manage.py", "check"), ("-c", "import governance.wsgi")], ids=["manage", "wsgi"])
def test_a_weak_secret_key_is_refused_at_start_when_debug_is_off(tmp_path, command, key, why):
    result = start_with(tmp_path, *command, SECRET_KEY=key)

    assert result.returncode != 0
    assert f"SECRET_KEY is too weak to run with DEBUG off: {why}." in result.stderr
    assert key not in result.stderr  # the refusal never shows the key


def test_a_weak_secret_key_is_let_through_for_local_development(tmp_path):
    assert start_with(tmp_path, "manage.py", "check", SECRET_KEY="short", DEBUG="1").returncode == 0


def test_a_key_of_50_characters_and_5_different_ones_is_enough(tmp_path):
    result = start_with(tmp_path, "manage.py", "check", SECRET_KEY="abcde" * 10)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "2718281828459"])
def test_common_and_all_digit_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_the_demo_password_is_still_accepted():
    validate_password(DEMO_PASSWORD)


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
