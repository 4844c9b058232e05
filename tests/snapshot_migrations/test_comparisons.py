"""Comparison runs: the prompt set on both snapshots through the gateway's path, judged pair by pair."""

import pytest

from governance.generations import worker
from governance.generations.models import Generation
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from governance.snapshot_migrations import selectors, services
from governance.snapshot_migrations.models import ComparisonPrompt
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, OLD
from tests.upstream_transport import simulator_transport, use_transport


@pytest.fixture(autouse=True)
def simulator_in_process():
    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        yield


@pytest.fixture
def pairs(plan, people, project, clock):
    ComparisonPrompt.objects.create(project=project, prompt="A fox in the snow")
    ComparisonPrompt.objects.create(project=project, prompt="Bread dough on a table")
    for snapshot in (OLD, NEW):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=5, failure_rate=0)
    pairs = services.run_comparison(plan=plan, user=people["developer"])
    for pair in pairs:
        for generation in (pair.baseline, pair.candidate):
            worker.advance(generation.pk)
    clock.shift(6)
    for pair in pairs:
        for generation in (pair.baseline, pair.candidate):
            while worker.advance(generation.pk).countdown is not None:
                clock.shift(1)
    return pairs


def test_each_prompt_runs_on_both_snapshots_marked_as_comparison_in_the_log(pairs):
    assert len(pairs) == 2
    runs = Generation.objects.filter(purpose="comparison")
    assert sorted(runs.values_list("resolved_snapshot", flat=True)) == sorted([OLD, OLD, NEW, NEW])
    # The protected environment allows only OLD, yet the comparison's candidate runs to completion.
    assert set(runs.values_list("status", flat=True)) == {"completed"}


def test_verdicts_become_the_compatibility_steps_evidence(plan, pairs, people):
    services.judge_pair(plan=plan, pair=pairs[0], user=people["approver"], verdict="equivalent")
    services.judge_pair(plan=plan, pair=pairs[1], user=people["lead"], verdict="better")
    step = plan.steps.get(kind="compatibility")
    assert (
        step.evidence
        == "Comparison run of 2 prompt pairs: 1 equivalent, 1 better, 0 worse, 0 broken; 0 not judged yet."
    )


def test_the_author_does_not_judge_their_own_comparison(plan, pairs, people):
    with pytest.raises(PlanRefused):
        services.judge_pair(plan=plan, pair=pairs[0], user=people["author"], verdict="better")


def test_the_benchmark_shows_both_snapshots_from_the_comparison_runs(plan, pairs):
    figures = selectors.benchmark(plan)["Comparison runs"]
    assert figures[OLD]["finished"] == figures[NEW]["finished"] == 2
    assert figures[OLD]["success_rate"] == 1.0
    assert figures[NEW]["p95_seconds"] is not None
    assert figures[NEW]["cost_per_second"] is not None


def test_the_benchmark_figures_are_recorded_as_the_steps_evidence(plan, pairs, people):
    step = services.record_benchmark(plan=plan, user=people["developer"])
    assert f"Comparison runs, {NEW}: 2 finished, success 100%" in step.evidence
