import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import TransactionTestCase

from governance.celery import app as celery_app
from governance.content_credentials.identity import CHAIN_FILE, create_development_identity, load_identity
from governance.generations import ratelimit
from governance.generations.budget_leases import forget_held_leases
from governance.generations.models import Generation
from governance.infra.caching import forget_everything
from governance.infra.postgresql.roles import switch_login
from tests.audit_tampering import as_database_superuser, install_owner_rights_for_tampering

ROOT = Path(__file__).resolve().parent.parent
LIVE_WORKER = SimpleNamespace(running=False)
# The application's login (DATABASE_URL's) while the owner's creates the test database.
APPLICATION_LOGIN: dict = {}


def _settle_and_flush(flush):
    """Between tests that commit: let the live worker settle, then wipe the database past the audit guards.

    The audit table refuses deletes, so the wipe borrows a superuser's or the owner's rights (tests/audit_tampering.py).
    """

    def settle_and_flush_as_superuser(self):
        if LIVE_WORKER.running:
            _let_the_worker_settle()
        with as_database_superuser():
            flush(self)

    return settle_and_flush_as_superuser


TransactionTestCase._fixture_teardown = _settle_and_flush(TransactionTestCase._fixture_teardown)


def pytest_sessionstart(session) -> None:
    """Remove an SQLite test database's leftover -wal and -shm files when the database itself is gone.

    A run stopped with Ctrl-C while the database was being destroyed can leave them behind,
    and SQLite then refuses to create the database anew with "disk I/O error".
    """
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return
    name = Path(database.get("TEST", {}).get("NAME") or "")
    if name.name and not name.exists():
        for suffix in ("-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """With MIGRATE_DATABASE_URL set, the owner of the tables creates, migrates and drops the test database.

    As in production (docs/database-roles.md): `migrate` then grants the application's role its privileges.
    """
    if django_settings.MIGRATE_DATABASE_LOGIN:
        APPLICATION_LOGIN.update(switch_login(connection, django_settings.MIGRATE_DATABASE_LOGIN))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """...and the tests, the live server and the worker then run as the application's role (DATABASE_URL's)."""
    if not APPLICATION_LOGIN:
        yield
        return
    with django_db_blocker.unblock():
        install_owner_rights_for_tampering(django_settings.DATABASE_APP_ROLE)
    switch_login(connection, APPLICATION_LOGIN)
    yield
    switch_login(connection, django_settings.MIGRATE_DATABASE_LOGIN)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Passwords are hashed for real in production; the suite does not need a million PBKDF2 rounds per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def keep_test_connection(db):
    """Through WSGI each request would close the test's database connection; Django's test client avoids it so."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def audit_checkpoint_dir(settings, tmp_path):
    """Each test keeps its audit checkpoints apart: a checkpoint of one test's chain means nothing to the next."""
    directory = tmp_path / "audit-checkpoints"
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_checkpoints": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(directory), "file_permissions_mode": 0o444},
        },
    }
    return directory


@pytest.fixture(autouse=True)
def fresh_rate_limit_windows(monkeypatch):
    """Each test counts requests afresh: rolled-back key ids are reused, the shared cache is not rolled back."""
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", f"test-rate:{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def fresh_process_memory():
    """Rolled-back test data must not survive in the gateway's in-memory view, nor its budget and rate leases."""
    forget_everything()
    forget_held_leases()
    ratelimit.forget_leases()
    yield
    forget_everything()
    forget_held_leases()
    ratelimit.forget_leases()


@pytest.fixture(scope="session", autouse=True)
def no_lingering_database_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, let the worker's and server threads' sessions end.

    A process that exits closes its PostgreSQL sessions asynchronously; dropping
    the database a moment too early fails with "being accessed by other users".
    """
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        for _ in range(50):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] == 0:
                    break
            time.sleep(0.2)
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        connection.close()


def database_url() -> str:
    """The URL of the test database this process uses, for a worker in another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def signing_identity():
    """A development claim-signing identity where the settings look for one (the live worker reads it too)."""
    directory = Path(django_settings.CONTENT_SIGNING_DIR)
    if not (directory / CHAIN_FILE).exists():
        create_development_identity(directory)
    return load_identity()


OWNER_LOGIN = ("MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE")


def application_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment of a process of the application that a test starts: never the owner's login.

    The test run's MIGRATE_DATABASE_URL (in CI) names the run's database, not the test database the
    process is pointed at, and the application never migrates.
    """
    return {name: value for name, value in env.items() if name not in OWNER_LOGIN}


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, live_server, django_db_blocker, tmp_path_factory):
    """A real Celery worker in its own process, on the test database and the configured broker."""
    simulator_url = live_server.url + "/simulator/v1"
    with django_db_blocker.unblock():
        url = database_url()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SIMULATOR_BASE_URL": simulator_url,
        "GOVERNANCE_DATA_DIR": str(django_settings.DATA_DIR),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DEBUG": "0",
        "CONN_MAX_AGE": "0",
    }
    env = application_environment(env)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "governance",
                "worker",
                "--purge",
                "--concurrency",
                "4",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # The dispatcher process, without beat's schedule (the tests run the sweep themselves).
        dispatcher = subprocess.Popen(
            [sys.executable, "manage.py", "dispatch_generations", "--every", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _wait_for(lambda: b"ready." in log_path.read_bytes(), process, log_path)
    LIVE_WORKER.running = True
    yield simulator_url
    LIVE_WORKER.running = False
    for running in (dispatcher, process):
        running.terminate()
        try:
            running.wait(timeout=20)
        except subprocess.TimeoutExpired:
            running.kill()
            running.wait()


def _wait_for(condition, process, log_path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("The Celery worker did not start:\n" + log_path.read_text(errors="replace")[-4000:])
        time.sleep(0.2)


@pytest.fixture
def live_stack(celery_worker_process, live_server, settings, transactional_db):
    """The web server (gateway and simulator) and a real worker, sharing the test database."""
    settings.SIMULATOR_BASE_URL = celery_worker_process
    return live_server


def _let_the_worker_settle(timeout: float = 30) -> None:
    """Stop this test's unfinished generations and wait until the worker holds no task in hand.

    The worker outlives each test and takes every task a committing test publishes, live or not
    (a budget race test's ten accepted submissions, say). A step it took up just before the
    database was wiped would otherwise reach the simulator during a later test and show there
    as a stranger's video. Steps it has scheduled for later find their generation finished (or
    gone) and call no one; with every generation finished, no step is calling the simulator now.
    """
    if not Generation.objects.unfinished().update(status=Generation.Status.FAILED, error_code="test_ended"):
        return
    inspect = celery_app.control.inspect(timeout=1, limit=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = inspect.active() or {}
        if active and not any(active.values()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"The live worker was still busy {timeout:.0f} s after the test: {active}")
