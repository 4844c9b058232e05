"""Comparison runs: the prompt set on both snapshots through the gateway's path, judged pair by pair."""

from decimal import Decimal

import pytest

from governance.generations import worker
from governance.generations.models import Generation
from governance.policies.models import BudgetLease, BudgetUsage
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from governance.snapshot_migrations import selectors, services
from governance.snapshot_migrations.models import ComparisonPrompt
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, OLD, make_environment
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


def test_whoever_judged_the_pairs_does_not_sign_off_the_compatibility_step(plan, pairs, people):
    services.judge_pair(plan=plan, pair=pairs[0], user=people["approver"], verdict="equivalent")
    services.judge_pair(plan=plan, pair=pairs[1], user=people["lead"], verdict="better")
    services.submit_for_review(plan=plan, user=people["author"])
    compatibility = plan.steps.get(kind="compatibility")

    for judge in (people["approver"], people["lead"]):
        with pytest.raises(PlanRefused) as refusal:
            services.sign_off(plan=plan, step=compatibility, user=judge, decision="approve", comment="looks fine")
        assert refusal.value.code == "own_evidence"
        assert "You judged this plan's comparison pairs" in refusal.value.message
        waiting = dict(selectors.awaiting_sign_off(judge))
        assert compatibility not in waiting.get(plan, [])
    assert not compatibility.sign_offs.exists()
    services.sign_off(plan=plan, step=compatibility, user=people["admin"], decision="approve", comment="pairs checked")


def test_a_pair_is_judged_only_once_both_its_runs_have_finished(plan, people, project, clock):
    ComparisonPrompt.objects.create(project=project, prompt="A fox in the snow")
    [pair] = services.run_comparison(plan=plan, user=people["developer"])

    with pytest.raises(PlanRefused) as refusal:
        services.judge_pair(plan=plan, pair=pair, user=people["approver"], verdict="equivalent")

    assert refusal.value.code == "unfinished"
    assert refusal.value.message == (
        "This pair's runs have not both finished (baseline queued, candidate queued); judge it once they have."
    )
    pair.refresh_from_db()
    assert (pair.verdict, pair.verdict_by) == ("", None)


def test_judging_an_unfinished_pair_in_the_page_says_why(plan, people, project, clock):
    from django.test import Client

    ComparisonPrompt.objects.create(project=project, prompt="A fox in the snow")
    [pair] = services.run_comparison(plan=plan, user=people["developer"])
    client = Client()
    client.force_login(people["approver"])
    plan_page = f"/projects/shop/migrations/{plan.pk}/"

    assert "Judged once both runs have finished." in client.get(plan_page).content.decode()
    response = client.post(f"{plan_page}comparisons/{pair.pk}/verdict/", {"verdict": "better"}, follow=True)

    assert "have not both finished" in response.content.decode()
    pair.refresh_from_db()
    assert pair.verdict == ""


def test_a_comparison_run_reserves_its_cost_on_the_spend_row_and_takes_no_budget_lease(
    project, people, clock, django_capture_on_commit_callbacks
):
    budgeted = make_environment(
        project, "staging", default_model=OLD, allowed_snapshots=[OLD], monthly_budget=Decimal("1000")
    )
    plan = services.create_plan(environment=budgeted, to_snapshot=NEW, reason="Better motion", author=people["author"])

    with django_capture_on_commit_callbacks(execute=True):  # its submissions share the plan's transaction
        pairs = services.run_comparison(plan=plan, user=people["developer"])

    runs = [generation for pair in pairs for generation in (pair.baseline, pair.candidate)]
    assert not BudgetLease.objects.exists()
    assert BudgetUsage.objects.get(environment=budgeted).spent == sum(run.estimated_cost for run in runs) > 0
