"""A canary from a snapshot of one provider to a snapshot of another: the migration every former Sora team makes."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import Generation
from governance.policies.engine import (
    ARM_CANARY,
    ARM_CONTROL,
    Accept,
    CatalogView,
    GenerationRequest,
    PolicyView,
    SnapshotInfo,
    decide,
    recheck_provider,
    routing_bucket,
)
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator.models import SimulatorProfile
from tests.factories import OLD, SYSTEM, make_api_key, make_environment, make_project
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
VEO, RUNWAY_MODEL = "veo-3.1-generate-001", "gen4.5"
VERTEX_ID, RUNWAY_ID = 11, 22
VERTEX = CatalogView(
    snapshots={
        VEO: SnapshotInfo(
            name=VEO, seconds=(4, 6, 8), sizes=("1280x720", "720x1280"), price_per_second={"1280x720": Decimal("0.4")}
        )
    },
    aliases={},
)
RUNWAY = CatalogView(
    snapshots={
        RUNWAY_MODEL: SnapshotInfo(
            name=RUNWAY_MODEL, seconds=(5, 10), sizes=("1280x720",), price_per_second={"1280x720": Decimal("0.12")}
        )
    },
    aliases={},
)


def staging_policy(percent: int) -> PolicyView:
    return PolicyView(
        revision_id=1,
        default_model=VEO,
        allowed_snapshots=frozenset({VEO}),
        canary_snapshot=RUNWAY_MODEL,
        canary_percent=percent,
        canary_provider_id=RUNWAY_ID,
    )


def routed(subjects: list[str], percent: int) -> list[Accept]:
    decisions = [
        decide(GenerationRequest(routing_bucket=routing_bucket(subject)), staging_policy(percent), VERTEX, NOW, RUNWAY)
        for subject in subjects
    ]
    assert all(isinstance(decision, Accept) for decision in decisions)
    return decisions


def test_ten_percent_of_two_thousand_subjects_go_to_the_other_provider_and_the_same_ones_every_time():
    subjects = [f"user-{number}" for number in range(2000)]

    first, again = routed(subjects, 10), routed(subjects, 10)

    to_runway = [subject for subject, decision in zip(subjects, first, strict=True) if decision.arm == ARM_CANARY]
    assert 180 <= len(to_runway) <= 220  # 10 ± 1 %
    assert to_runway == [s for s, decision in zip(subjects, again, strict=True) if decision.arm == ARM_CANARY]
    assert {(d.snapshot, d.provider_id) for d in first if d.arm == ARM_CANARY} == {(RUNWAY_MODEL, RUNWAY_ID)}
    assert {(d.snapshot, d.provider_id) for d in first if d.arm == ARM_CONTROL} == {(VEO, None)}


def test_a_subject_in_the_canary_at_ten_percent_stays_in_it_at_fifty():
    subjects = [f"user-{number}" for number in range(500)]

    at_ten = {s for s, d in zip(subjects, routed(subjects, 10), strict=True) if d.arm == ARM_CANARY}
    at_fifty = {s for s, d in zip(subjects, routed(subjects, 50), strict=True) if d.arm == ARM_CANARY}

    assert at_ten < at_fifty


def test_a_request_that_names_no_length_gets_each_snapshots_own_default():
    bucket_in_canary = next(b for b in (routing_bucket(f"s{n}") for n in range(100)) if b < 1000)
    bucket_in_control = next(b for b in (routing_bucket(f"s{n}") for n in range(100)) if b >= 1000)

    canary = decide(GenerationRequest(routing_bucket=bucket_in_canary), staging_policy(10), VERTEX, NOW, RUNWAY)
    control = decide(GenerationRequest(routing_bucket=bucket_in_control), staging_policy(10), VERTEX, NOW, RUNWAY)

    assert (canary.snapshot, canary.seconds, canary.size) == (RUNWAY_MODEL, 5, "1280x720")
    assert (control.snapshot, control.seconds, control.size) == (VEO, 4, "720x1280")


def test_a_length_the_canary_cannot_make_stays_on_the_pinned_snapshot():
    everyone_in_canary = staging_policy(100)

    decision = decide(GenerationRequest(seconds=8), everyone_in_canary, VERTEX, NOW, RUNWAY)

    assert (decision.snapshot, decision.arm, decision.provider_id) == (VEO, ARM_CONTROL, None)


def test_a_queued_canary_request_still_runs_at_the_canary_provider_but_not_after_the_canary_is_gone():
    assert (
        recheck_provider(
            accepted_at=RUNWAY_ID, policy_provider_id=VERTEX_ID, comparison=False, canary_provider_id=RUNWAY_ID
        )
        is None
    )
    refusal = recheck_provider(accepted_at=RUNWAY_ID, policy_provider_id=VERTEX_ID, comparison=False)
    assert refusal is not None and refusal.code == "snapshot_no_longer_allowed"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lumen(db) -> Provider:
    SimulatorProfile.objects.create(snapshot="lumen-1-2026-06-01", latency_seconds=2, failure_rate=0)
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    return Provider.objects.get(slug="simulator-lumen")


@pytest.fixture
def api(lumen) -> Api:
    """A key to staging: pinned to the Sora simulator's snapshot, every request a canary to Lumen."""
    staging = make_environment(
        make_project("studio"),
        "staging",
        default_model=OLD,
        allowed_snapshots=[OLD],
        canary_snapshot="lumen-1-2026-06-01",
        canary_provider_id=lumen.pk,
        canary_percent=100,
    )
    return Api(make_api_key(staging))


def test_a_canary_request_is_logged_and_run_at_the_other_provider(api, lumen, clock):

    with use_transport(simulator_transport()):
        response = api.post("videos", {"prompt": "a lighthouse"}, headers={"X-Governance-Subject": "user-1"})
        generation = Generation.objects.get(video_id=response.json()["id"])
        while worker.advance(generation.pk).countdown is not None:
            clock.shift(2)

    generation.refresh_from_db()
    assert (generation.provider, generation.resolved_snapshot, generation.canary_arm) == (
        lumen,
        "lumen-1-2026-06-01",
        ARM_CANARY,
    )
    assert generation.status == Generation.Status.COMPLETED


def test_a_remix_of_a_canary_video_runs_where_the_canary_made_it_and_an_edit_is_refused_clearly(api, lumen, clock):
    with use_transport(simulator_transport()):
        source_id = api.post("videos", {"prompt": "a lighthouse"}).json()["id"]
        source = Generation.objects.get(video_id=source_id)
        while worker.advance(source.pk).countdown is not None:
            clock.shift(2)

        remix = api.post(f"videos/{source_id}/remix", {"prompt": "at night"})
        edit = api.post("videos/edits", {"prompt": "at night", "video": {"id": source_id}})

    assert remix.status_code == 200, remix.content
    remixed = Generation.objects.get(video_id=remix.json()["id"])
    assert (remixed.provider, remixed.resolved_snapshot) == (lumen, "lumen-1-2026-06-01")
    assert edit.status_code == 400
    assert edit.json()["error"]["code"] == "source_at_other_provider"


@pytest.mark.django_db
def test_a_canary_at_a_provider_that_is_not_configured_leaves_every_request_on_the_pinned_snapshot(
    settings, monkeypatch
):
    """In production (no simulator), a canary to a provider without credentials takes no request."""
    settings.SIMULATOR_ENABLED = False
    monkeypatch.setenv("XAI_API_KEY", "xai-live-key-1234567890")
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    for pack in ("xai", "runway"):
        load_pack(read_pack(pack), actor=SYSTEM)
    environment = Environment.objects.create(project=make_project("studio"), name="staging")
    revise_policy(
        environment=environment,
        provider=Provider.objects.get(slug="xai"),
        actor=SYSTEM,
        reason="xAI, trying Runway",
        default_model="grok-imagine-video",
        allowed_snapshots=["grok-imagine-video"],
        canary_snapshot=RUNWAY_MODEL,
        canary_provider_id=Provider.objects.get(slug="runway").pk,
        canary_percent=100,
    )
    api = Api(make_api_key(environment))

    response = api.post("videos", {"prompt": "a lighthouse", "seconds": "5", "size": "1280x720"})

    assert response.status_code == 200, response.content
    generation = Generation.objects.get(video_id=response.json()["id"])
    assert (generation.resolved_snapshot, generation.canary_arm) == ("grok-imagine-video", ARM_CONTROL)
