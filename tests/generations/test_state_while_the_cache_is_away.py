"""A change of keys, policies or the catalog made while the shared cache is away still reaches every process.

The cache is made unreachable for real: a Redis cache on a port nothing listens on, in this
process (override_settings) or in another process that makes the change and exits.
"""

import os
import subprocess
import sys
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.audit.services import Actor
from governance.infra import tasks
from governance.infra.models import StateChange
from governance.infra.state_token import STATE_TOKEN_KEY
from governance.projects.models import ApiKey
from governance.projects.services import revoke_api_key
from tests.conftest import ROOT, application_environment, database_url
from tests.factories import OLD
from tests.state import wait_for_the_push

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
CACHE_AWAY = override_settings(
    CACHES={"default": {"BACKEND": "governance.infra.cache_backends.RedisCache", "LOCATION": UNREACHABLE_REDIS}}
)


def create(api):
    return api.post("videos", {"prompt": "a", "model": OLD}).status_code


def revoke_in_another_process(key: ApiKey, settings) -> str:
    """Revoke `key` from a process that cannot reach the shared cache, and let that process end; its log."""
    env = {
        **application_environment(os.environ),
        "DATABASE_URL": database_url(),
        "REDIS_URL": UNREACHABLE_REDIS,
        "GOVERNANCE_DATA_DIR": str(settings.DATA_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "1",
        "CONN_MAX_AGE": "0",
    }
    code = (
        "from governance.audit.services import Actor; from governance.projects.models import ApiKey; "
        "from governance.projects.services import revoke_api_key; "
        f"revoke_api_key(api_key=ApiKey.objects.get(pk={key.pk}), actor=Actor.system())"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.django_db(transaction=True)
def test_a_key_revoked_by_a_process_that_could_not_announce_it_is_refused_once_beat_announces_it(api, settings):
    assert create(api) == 200  # this process now answers for the key from memory

    log = revoke_in_another_process(ApiKey.objects.get(), settings)

    assert "could not announce 1 governance state change(s)" in log
    assert ApiKey.objects.get().revoked_at is not None and StateChange.objects.count() == 1
    assert tasks.publish_state() is True  # beat, every STATE_PUBLISH_SECONDS
    wait_for_the_push()
    assert create(api) == 401
    assert not StateChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_nobody_announced_reaches_every_process_within_state_memory_max_seconds(api, settings):
    settings.STATE_MEMORY_MAX_SECONDS = 1
    assert create(api) == 200

    revoke_in_another_process(ApiKey.objects.get(), settings)  # and no beat runs

    time.sleep(1.1)
    assert create(api) == 401


def test_a_process_that_cannot_read_the_token_reads_the_database_and_reloads_once_the_cache_is_back(api):
    assert create(api) == 200
    with CACHE_AWAY:
        ApiKey.objects.update(revoked_at=timezone.now())  # announced by nobody: the cache is away for all
        assert create(api) == 401  # from the database

    assert create(api) == 401  # the token is the one of before the change, but memory was dropped


def test_a_change_committed_while_the_cache_is_away_is_announced_by_the_next_successful_read(
    api, django_capture_on_commit_callbacks
):
    before = cache.get(STATE_TOKEN_KEY)
    with CACHE_AWAY, django_capture_on_commit_callbacks(execute=True):
        revoke_api_key(api_key=ApiKey.objects.get(), actor=Actor.system())

    assert cache.get(STATE_TOKEN_KEY) == before and StateChange.objects.exists()
    assert api.get("models").status_code == 401
    assert cache.get(STATE_TOKEN_KEY) != before and not StateChange.objects.exists()


def test_a_request_reads_no_governance_state_from_the_database_while_it_is_remembered(api):
    assert create(api) == 200

    with CaptureQueriesContext(connection) as queries:
        assert create(api) == 200

    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "projects_apikey" not in tables and "policies_policyrevision" not in tables
    assert "infra_statechange" not in tables
