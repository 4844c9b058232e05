"""Keys, policies and the catalog are served from memory, and every process sees a change once it is announced."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from governance.audit.services import Actor
from governance.infra.state_token import STATE_TOKEN_KEY
from governance.projects.models import ApiKey
from governance.projects.services import revoke_api_key
from tests.factories import OLD, revise
from tests.state import announce_as_another_process

pytestmark = pytest.mark.django_db


def test_the_gateway_answers_from_memory_until_another_process_announces_a_change(api):
    assert api.post("videos", {"prompt": "a", "model": OLD}).status_code == 200
    ApiKey.objects.update(revoked_at=timezone.now())  # a change this process was not told about
    assert api.post("videos", {"prompt": "a", "model": OLD}).status_code == 200

    announce_as_another_process()
    assert api.post("videos", {"prompt": "a", "model": OLD}).status_code == 401


def test_revoking_a_key_announces_the_change_to_every_process_once_committed(api, django_capture_on_commit_callbacks):
    before = cache.get(STATE_TOKEN_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        revoke_api_key(api_key=ApiKey.objects.get(), actor=Actor.system())
        assert cache.get(STATE_TOKEN_KEY) == before  # until the commit, the state of before is the committed one
    assert cache.get(STATE_TOKEN_KEY) not in (None, before)


def test_a_new_policy_revision_announces_the_change(production, django_capture_on_commit_callbacks):
    before = cache.get(STATE_TOKEN_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        revise(production, max_seconds=8)
    assert cache.get(STATE_TOKEN_KEY) not in (None, before)


def test_unknown_keys_are_not_remembered(client, production):
    from governance.infra import caching

    for number in range(50):
        client.get("/v1/videos", HTTP_AUTHORIZATION=f"Bearer sgk_random_{number}")
    assert not [key for key in caching._memory if key[0] == "api_key"]
