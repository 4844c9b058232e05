"""A migration plan's comparison runs: decided and rechecked by the engine's own rules for them."""

from governance.policies.engine import (
    Accept,
    ComparisonRun,
    GenerationRequest,
    comparison_policy,
    decide,
    recheck,
    recheck_provider,
    running_provider,
)
from tests.policies.test_decide import CATALOG, NEW, NOW, OLD, policy

PINNED_TO_OLD = policy(default_model=OLD, allowed_snapshots=frozenset({OLD}), canary_snapshot=NEW, canary_percent=50)


def test_a_comparison_run_may_also_run_the_plans_snapshot_and_never_the_canary():
    view = comparison_policy(PINNED_TO_OLD, NEW)

    assert view.allowed_snapshots == {OLD, NEW}
    assert (view.canary_snapshot, view.canary_percent) == (None, 0)
    assert isinstance(decide(GenerationRequest(model=NEW), view, CATALOG, NOW), Accept)


def test_the_recheck_of_a_comparison_run_allows_the_plans_snapshot():
    assert recheck(NEW, policy(allowed_snapshots=frozenset({OLD})), CATALOG, NOW).code == "snapshot_no_longer_allowed"
    assert recheck(NEW, policy(allowed_snapshots=frozenset({OLD})), CATALOG, NOW, comparison=True) is None


def test_a_generation_runs_at_the_policys_provider_unless_a_comparison_names_another():
    assert running_provider(1) == 1
    assert running_provider(1, ComparisonRun(NEW)) == 1
    assert running_provider(1, ComparisonRun(NEW, provider_id=2)) == 2
    assert running_provider(None) is None


def test_a_generation_whose_policy_moved_to_another_provider_is_stopped_unless_it_is_a_comparison():
    assert recheck_provider(accepted_at=1, policy_provider_id=1, comparison=False) is None
    assert recheck_provider(accepted_at=1, policy_provider_id=2, comparison=False).code == "snapshot_no_longer_allowed"
    assert recheck_provider(accepted_at=2, policy_provider_id=1, comparison=True) is None
