"""A client's openai SDK, unchanged, against a live gateway and a real worker, on every provider's simulated dialect.

For each provider kind with a dialect, an environment's policy pins one snapshot that runs
today (the demo's where the `studio` project uses that provider) and no provider key is set,
so the simulator's dialect of that provider answers, as under `make run`. The SDK then makes
a video without naming a model, downloads it after the provider's result link has expired,
and is refused a length the snapshot does not offer before anything reaches the provider.

Azure OpenAI has a dialect but is left out: its pack holds only Sora 2 deployments, every one
shut down since Microsoft retired Sora 2, so no policy can pin one.
`test_the_azure_pack_has_no_snapshot_to_try_today` fails the day its pack gains one.
"""

import time
from dataclasses import dataclass

import httpx
import openai
import pytest

from governance.catalog.models import Lifecycle, Provider, Snapshot
from governance.catalog.services import load_pack, read_pack
from governance.generations.models import Generation
from governance.generations.providers import adapter_for
from governance.policies.models import PolicyRevision
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator.models import SimulatedVideo, SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project

LINK_SECONDS = 2  # how long the simulated providers' result links work: long enough for the worker's copy


@dataclass(frozen=True)
class Pinned:
    pack: str
    snapshot: str
    hands_out_links: bool = True  # Vertex answers with the video inline: it has no link to expire

    def __str__(self) -> str:
        return self.pack


PINNED = [
    Pinned("gemini", "gemini-omni-1.2-flash"),
    Pinned("vertex", "veo-3.1-generate-001", hands_out_links=False),
    Pinned("runway", "gen4.5"),
    Pinned("byteplus", "dreamina-seedance-2-0-260128"),
    Pinned("xai", "grok-imagine-video"),  # not grok-imagine-video-1.5, which makes videos only from an image
]


@dataclass
class PinnedEnvironment:
    client: openai.OpenAI
    provider: Provider
    revision: PolicyRevision
    pinned: Pinned
    api_version: str  # as the pack pins it; empty where the provider has none (BytePlus, xAI)


@pytest.fixture(params=PINNED, ids=str)
def pinned_environment(request, live_stack, monkeypatch, settings):
    """An environment whose policy pins the snapshot; without the provider's key, its simulated dialect answers."""
    pinned: Pinned = request.param
    pack = read_pack(pinned.pack)
    for variable in (pack["provider"]["api_key_env_var"], pack["provider"]["base_url_env_var"]):
        monkeypatch.delenv(variable, raising=False)
    settings.SIMULATOR_LINK_SECONDS = LINK_SECONDS
    load_pack(pack, actor=SYSTEM)
    provider = Provider.objects.get(slug=pack["provider"]["slug"])
    SimulatorProfile.objects.create(snapshot=pinned.snapshot, latency_seconds=0.5, failure_rate=0)
    environment = Environment.objects.create(project=make_project("studio"), name="testing")
    revision = revise_policy(
        environment=environment,
        provider=provider,
        actor=SYSTEM,
        reason=f"testing on {provider.name}",
        default_model=pinned.snapshot,
        allowed_snapshots=[pinned.snapshot],
    )
    client = openai.OpenAI(base_url=f"{live_stack.url}/v1", api_key=make_api_key(environment), max_retries=0)
    return PinnedEnvironment(client, provider, revision, pinned, pack["provider"].get("api_version", ""))


@pytest.mark.live
def test_create_and_poll_with_no_model_completes_and_the_log_row_names_what_ran(pinned_environment):
    testing = pinned_environment

    video = testing.client.videos.create_and_poll(prompt="a lighthouse at dusk", poll_interval_ms=200)

    assert (video.status, video.model, video.progress) == ("completed", testing.pinned.snapshot, 100)
    generation = Generation.objects.get(video_id=video.id)
    assert generation.provider == testing.provider
    assert generation.resolved_snapshot == testing.pinned.snapshot
    assert generation.api_version == testing.api_version
    assert generation.simulated is True
    assert generation.policy_revision == testing.revision
    upstream = SimulatedVideo.objects.get()
    assert (upstream.dialect, upstream.model) == (testing.provider.kind, testing.pinned.snapshot)


@pytest.mark.live
def test_download_content_works_after_the_providers_link_has_expired(pinned_environment):
    testing = pinned_environment
    video = testing.client.videos.create_and_poll(prompt="a red kite", poll_interval_ms=200)
    generation = Generation.objects.get(video_id=video.id)
    link = adapter_for(generation.provider).retrieve(generation).video

    if testing.pinned.hands_out_links:
        assert httpx.get(link.url, headers=dict(link.headers)).status_code == 200
        time.sleep(LINK_SECONDS + 0.5)
        expired = httpx.get(link.url, headers=dict(link.headers))
        assert expired.status_code == 403 and "expired" in expired.text
    else:
        assert link.data[4:8] == b"ftyp"

    assert testing.client.videos.download_content(video.id).content[4:8] == b"ftyp"


@pytest.mark.live
def test_a_length_the_snapshot_does_not_offer_is_refused_before_the_provider(pinned_environment):
    testing = pinned_environment
    offered = Snapshot.objects.get(provider=testing.provider, name=testing.pinned.snapshot).seconds

    with pytest.raises(openai.BadRequestError) as refused:
        testing.client.videos.create(prompt="a cat", seconds=str(max(offered) + 1))

    assert refused.value.status_code == 400 and refused.value.param == "seconds"
    assert not SimulatedVideo.objects.exists()


@pytest.mark.django_db
def test_the_azure_pack_has_no_snapshot_to_try_today():
    """Were there one, it belongs in PINNED above."""
    load_pack(read_pack("azure-openai"), actor=SYSTEM)

    lifecycles = {snapshot.lifecycle() for snapshot in Snapshot.objects.filter(provider__slug="azure-openai")}

    assert lifecycles == {Lifecycle.SHUT_DOWN}
