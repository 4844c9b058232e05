"""Moving an environment to another provider's snapshot: staged canaries across providers, then the move at 100%;
rollback restores the provider."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from governance.catalog.models import Provider, Snapshot
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import Generation
from governance.policies.selectors import current_revision
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from governance.snapshot_migrations import selectors, services
from governance.snapshot_migrations.charts import health_charts
from governance.snapshot_migrations.models import MigrationPlan
from governance.snapshot_migrations.tasks import check_rollout_health
from tests.factories import OLD, SYSTEM, make_api_key, revise, simulator_provider
from tests.generations.conftest import Api
from tests.snapshot_migrations.conftest import add_evidence, sign_all
from tests.snapshot_migrations.test_health_gates import run_all, send
from tests.upstream_transport import simulator_transport, use_transport

LUMEN = "lumen-1-2026-06-01"


@pytest.fixture
def lumen(db):
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    return Provider.objects.get(slug="simulator-lumen")


@pytest.fixture
def cross_plan(production, people, lumen):
    plan = services.create_plan(
        environment=production,
        to_snapshot=LUMEN,
        to_provider=lumen,
        reason="Sora is going away",
        author=people["author"],
        stages=[10, 50, 100],
    )
    add_evidence(plan, people)
    return plan


def test_a_plan_to_another_provider_is_staged_like_any_other(cross_plan, lumen):
    assert cross_plan.crosses_providers
    assert cross_plan.stages == [10, 50, 100]
    assert cross_plan.from_provider == simulator_provider()
    assert cross_plan.to_provider == lumen


def test_each_stage_canaries_across_providers_and_100_moves_the_environment(
    cross_plan, production, people, lumen, clock
):
    services.submit_for_review(plan=cross_plan, user=people["author"])
    sign_all(cross_plan, people)

    services.start_rollout(plan=cross_plan, user=people["admin"])
    revision = current_revision(production)
    assert (revision.provider, revision.default_model) == (simulator_provider(), OLD)
    assert (revision.canary_provider, revision.canary_snapshot, revision.canary_percent) == (lumen, LUMEN, 10)

    services.advance_rollout(plan=cross_plan, user=people["admin"], override_reason="looks fine")
    assert current_revision(production).canary_percent == 50
    services.advance_rollout(plan=cross_plan, user=people["admin"], override_reason="looks fine")
    revision = current_revision(production)
    assert (revision.provider, revision.default_model, revision.allowed_snapshots) == (lumen, LUMEN, [LUMEN])
    assert (revision.canary_snapshot, revision.canary_provider) == ("", None)

    services.roll_back(plan=cross_plan, user=people["admin"], reason="Lumen looks wrong")
    revision = current_revision(production)
    assert (revision.provider, revision.default_model, revision.allowed_snapshots) == (
        simulator_provider(),
        OLD,
        [OLD],
    )
    cross_plan.refresh_from_db()
    assert cross_plan.state == MigrationPlan.State.ROLLED_BACK


def test_completing_the_last_stage_keeps_the_other_provider(cross_plan, production, people, lumen, clock):
    services.submit_for_review(plan=cross_plan, user=people["author"])
    sign_all(cross_plan, people)
    services.start_rollout(plan=cross_plan, user=people["admin"])

    for _ in range(3):
        services.advance_rollout(plan=cross_plan, user=people["admin"], override_reason="move tonight")

    cross_plan.refresh_from_db()
    assert cross_plan.state == MigrationPlan.State.COMPLETED
    assert current_revision(production).provider == lumen


def test_a_shut_down_target_is_refused(production, people):
    Snapshot.objects.filter(provider=simulator_provider(), name="sora-2-2025-12-08").update(
        shutdown_on="2026-01-01", deprecated_on="2025-12-01"
    )
    with pytest.raises(ValidationError, match="shut down on 2026-01-01"):
        services.create_plan(
            environment=production, to_snapshot="sora-2-2025-12-08", reason="newer", author=people["author"]
        )


def test_a_comparison_runs_the_candidate_at_the_other_provider_and_the_benchmark_names_both(
    cross_plan, people, lumen, clock
):
    simulator.rolls.seed(7)
    for snapshot in (OLD, LUMEN):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=5, failure_rate=0)
    with use_transport(simulator_transport()):
        pairs = services.run_comparison(plan=cross_plan, user=people["developer"])
        runs = [generation for pair in pairs for generation in (pair.baseline, pair.candidate)]
        for generation in runs:
            worker.advance(generation.pk)
        clock.shift(6)
        for generation in runs:
            while worker.advance(generation.pk).countdown is not None:
                clock.shift(1)

    candidates = Generation.objects.filter(pk__in=[pair.candidate_id for pair in pairs])
    assert {(run.provider, run.resolved_snapshot, run.status) for run in candidates} == {(lumen, LUMEN, "completed")}
    baselines = Generation.objects.filter(pk__in=[pair.baseline_id for pair in pairs])
    assert {(run.provider, run.resolved_snapshot) for run in baselines} == {(simulator_provider(), OLD)}
    figures = selectors.benchmark(cross_plan)["Comparison runs"]
    assert figures[f"simulator:{OLD}"]["finished"] == figures[f"simulator-lumen:{LUMEN}"]["finished"] == len(pairs)


def test_the_plan_form_offers_other_providers_and_keeps_the_link_s_choice(client, project, production, people, lumen):
    client.force_login(people["author"])
    url = reverse("snapshot_migrations:plan_create", args=[project.slug])

    page = client.get(url, {"environment": "production", "to": f"simulator-lumen:{LUMEN}"}).content.decode()

    assert f'<option value="simulator-lumen:{LUMEN}" selected>' in page
    assert "Lumen (simulated second provider), another provider)" in page

    response = client.post(
        url,
        {
            "environment": "production",
            "to_snapshot": f"simulator-lumen:{LUMEN}",
            "reason": "Sora is going away",
            "stages": "10, 50, 100",
            "window_hours": "24",
            "auto_rollback": "on",
        },
    )
    plan = MigrationPlan.objects.get()
    assert response.status_code == 302
    assert (plan.to_provider, plan.to_snapshot, plan.stages) == (lumen, LUMEN, [10, 50, 100])
    assert "a canary across providers" in client.get(response["Location"]).content.decode()


def test_the_health_gate_judges_a_cut_over_against_the_old_provider_before_it(
    cross_plan, production, people, lumen, clock
):
    MigrationPlan.objects.filter(pk=cross_plan.pk).update(minimum_samples=4, stages=[100])
    cross_plan.refresh_from_db()
    simulator.rolls.seed(7)
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=5, failure_rate=0)
    SimulatorProfile.objects.create(snapshot=LUMEN, latency_seconds=5, failure_rate=1.0)
    api = Api(make_api_key(production))
    with use_transport(simulator_transport()):
        run_all(send(api, 4), clock)  # before: the old provider, all completed
        services.submit_for_review(plan=cross_plan, user=people["author"])
        sign_all(cross_plan, people)
        services.start_rollout(plan=cross_plan, user=people["admin"])
        run_all(send(api, 4, prefix="after"), clock)  # after the cut-over: Lumen, all failing
        check_rollout_health()

    cross_plan.refresh_from_db()
    assert cross_plan.state == MigrationPlan.State.ROLLED_BACK
    assert current_revision(production).provider == simulator_provider()
    failures, _latency = health_charts(cross_plan, timezone.now())
    candidate = next(series for series in failures.series if series.label == f"Candidate {LUMEN}")
    assert 100.0 in candidate.values  # the cut-over's failing hour is charted, though it has no canary arm


def test_moving_to_the_other_provider_keeps_only_the_limits_its_snapshot_can_meet(
    cross_plan, production, people, lumen, clock
):
    production.protected = False  # the limits were set before the environment was protected
    revise(production, allowed_sizes=["1280x720", "1792x1024"], reason="landscape only")
    production.protected = True
    services.submit_for_review(plan=cross_plan, user=people["author"])
    sign_all(cross_plan, people)
    services.start_rollout(plan=cross_plan, user=people["admin"])

    for _ in range(2):
        services.advance_rollout(plan=cross_plan, user=people["admin"], override_reason="move tonight")

    revision = current_revision(production)
    assert (revision.provider, revision.allowed_sizes) == (lumen, ["1280x720"])  # Lumen has no 1792x1024
