"""Alias drift: the provider runs an alias request elsewhere, or the alias is re-pointed; followers hear of it."""

import httpx
import pytest

from governance.audit.models import AuditEvent
from governance.catalog.models import Alias, AliasDrift, Snapshot
from governance.catalog.services import repoint_alias
from governance.generations import worker
from governance.generations.models import Generation
from governance.notifications.models import Notification
from tests.factories import NEW, OLD, SYSTEM, make_api_key, make_environment, make_member, make_project
from tests.generations.conftest import Api
from tests.upstream_transport import use_transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    project = make_project("shop", name="Shop")
    member = make_member(project)
    following = make_environment(
        project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow"
    )
    make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    return project, member, following


def provider_answering(model: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "video_up", "object": "video", "status": "queued", "model": model})

    return httpx.MockTransport(answer)


def test_the_provider_running_an_alias_request_elsewhere_is_recorded_and_announced(shop, client):
    project, member, following = shop
    video_id = Api(make_api_key(following)).post("videos", {"prompt": "a", "model": "sora-2"}).json()["id"]
    generation = Generation.objects.get(video_id=video_id)
    assert generation.resolved_snapshot == NEW

    with use_transport(provider_answering(OLD)):
        worker.advance(generation.pk)

    drift = AliasDrift.objects.get()
    assert (drift.alias.name, drift.expected_snapshot, drift.observed_snapshot) == ("sora-2", NEW, OLD)
    assert drift.generation_video_id == video_id
    assert AuditEvent.objects.filter(action="alias.drift_detected").count() == 1
    note = Notification.objects.get(recipient=member, kind="lifecycle.alias_drift")
    assert note.title == f"Shop: alias sora-2 ran on {OLD} (was {NEW})"
    assert "Development follows this alias" in note.body

    client.force_login(member)
    page = client.get("/catalog/").content.decode()
    assert "Drift seen at the provider" in page and video_id in page


def test_the_same_drift_is_announced_once_a_day(shop):
    _, member, following = shop
    api = Api(make_api_key(following))
    with use_transport(provider_answering(OLD)):
        for _ in range(3):
            video_id = api.post("videos", {"prompt": "a", "model": "sora-2"}).json()["id"]
            worker.advance(Generation.objects.get(video_id=video_id).pk)
    assert AliasDrift.objects.count() == 1
    assert Notification.objects.filter(kind="lifecycle.alias_drift").count() == 1


def test_a_pinned_request_answered_with_another_model_is_not_alias_drift(shop):
    project, _, _ = shop
    production = project.environments.get(name="production")
    video_id = Api(make_api_key(production)).post("videos", {"prompt": "a", "model": OLD}).json()["id"]
    with use_transport(provider_answering(NEW)):
        worker.advance(Generation.objects.get(video_id=video_id).pk)
    assert not AliasDrift.objects.exists()


def test_re_pointing_an_alias_tells_the_projects_that_follow_it(shop):
    project, member, _ = shop
    alias = Alias.objects.get(provider__slug="simulator", name="sora-2")
    repoint_alias(
        provider=alias.provider,
        name="sora-2",
        snapshot=Snapshot.objects.get(provider=alias.provider, name=OLD),
        actor=SYSTEM,
        reason="the new snapshot breaks storyboards",
    )
    note = Notification.objects.get(recipient=member, kind="lifecycle.alias_repointed")
    assert note.title == f"Shop: alias sora-2 now points at {OLD} (was {NEW})"
    assert "the new snapshot breaks storyboards" in note.body
    other = make_member(make_project("other"))
    assert not Notification.objects.filter(recipient=other).exists()
