"""A client's openai SDK, unchanged, against a live gateway whose environment runs on (simulated) Runway."""

import openai
import pytest

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations.models import Generation
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator.models import SimulatedVideo, SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project

pytestmark = [pytest.mark.live]


@pytest.fixture
def testing(live_stack, monkeypatch):
    """The studio's testing environment on Runway gen4.5; no key is set, so the simulator's dialect answers."""
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    load_pack(read_pack("runway"), actor=SYSTEM)
    SimulatorProfile.objects.create(snapshot="gen4.5", latency_seconds=1.0, failure_rate=0)
    environment = Environment.objects.create(project=make_project("studio"), name="testing")
    revise_policy(
        environment=environment,
        provider=Provider.objects.get(slug="runway"),
        actor=SYSTEM,
        reason="testing on Runway",
        default_model="gen4.5",
        allowed_snapshots=["gen4.5"],
    )
    return openai.OpenAI(base_url=f"{live_stack.url}/v1", api_key=make_api_key(environment), max_retries=0)


def test_create_and_poll_with_no_model_completes_on_runway_and_downloads_after_the_link_expired(testing, settings):
    video = testing.videos.create_and_poll(prompt="a lighthouse at dusk", poll_interval_ms=300)

    assert (video.status, video.model, video.progress) == ("completed", "gen4.5", 100)
    upstream = SimulatedVideo.objects.get(dialect="runway")
    assert upstream.native["endpoint"] == "text_to_video"
    settings.SIMULATOR_LINK_SECONDS = 0  # every output link Runway's dialect handed out has now expired
    assert testing.videos.download_content(video.id).content[4:8] == b"ftyp"
    generation = Generation.objects.get(video_id=video.id)
    assert generation.upstream_id and generation.resolved_snapshot == "gen4.5"


def test_a_length_gen45_does_not_offer_is_refused_before_runway(testing):
    with pytest.raises(openai.BadRequestError) as refused:
        testing.videos.create(prompt="a cat", seconds="12")

    assert refused.value.param == "seconds"
    assert not SimulatedVideo.objects.filter(dialect="runway").exists()
