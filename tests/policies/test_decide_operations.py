"""Operations in the policy engine: the snapshot must offer each one, the policy must allow it, and an
extension's limits apply to the stitched total. Unit tests per rule, then properties over every input."""

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from governance.policies.engine import (
    OPERATION_FEATURES,
    OPERATIONS,
    Accept,
    CatalogView,
    GenerationRequest,
    Operation,
    PolicyView,
    Refusal,
    SnapshotInfo,
    decide,
)

OLD, NEW, LUMEN = "sora-2-2025-10-06", "sora-2-2025-12-08", "lumen-1-2026-06-01"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PRICE = {"720x1280": Decimal("0.10"), "1280x720": Decimal("0.10")}
SORA_OPERATIONS = frozenset({"image_reference", "remix", "edits", "extensions"})

CATALOG = CatalogView(
    snapshots={
        OLD: SnapshotInfo(
            name=OLD,
            family="sora-2",
            seconds=(4, 8, 12),
            sizes=("720x1280", "1280x720"),
            features=SORA_OPERATIONS,
            extension_seconds=(4, 8, 12, 16, 20),
            price_per_second=PRICE,
        ),
        NEW: SnapshotInfo(
            name=NEW,
            family="sora-2",
            seconds=(4, 8, 12, 16, 20),
            sizes=("720x1280", "1280x720"),
            features=SORA_OPERATIONS | {"characters", "character_cameos"},
            extension_seconds=(4, 8, 12, 16, 20),
            price_per_second=PRICE,
        ),
        LUMEN: SnapshotInfo(
            name=LUMEN,
            family="lumen-1",
            seconds=(5, 10),
            sizes=("720x1280",),
            features=frozenset({"remix", "extensions"}),
            extension_seconds=(4, 8),
            price_per_second=PRICE,
        ),
    },
    aliases={"sora-2": NEW},
)


def policy(**overrides) -> PolicyView:
    values = dict(revision_id=1, number=3, default_model=OLD, allowed_snapshots=frozenset({OLD, NEW, LUMEN}))
    return PolicyView(**{**values, **overrides})


def test_characters_are_refused_on_a_snapshot_without_them_naming_the_operation():
    decision = decide(GenerationRequest(operation=Operation.CHARACTER), policy(), CATALOG, NOW)
    assert isinstance(decision, Refusal) and decision.code == "operation_not_supported"
    assert OLD in decision.message and "'character'" in decision.message


def test_characters_run_on_a_snapshot_that_has_them_and_cost_nothing():
    decision = decide(GenerationRequest(operation=Operation.CHARACTER), policy(default_model=NEW), CATALOG, NOW)
    assert decision == Accept(snapshot=NEW, arm="", seconds=0, size="", estimated_cost=Decimal("0"))


def test_a_policy_can_forbid_an_operation_the_snapshot_has():
    no_characters = policy(default_model=NEW, allowed_operations=frozenset({"create", "remix", "edit", "extend"}))
    decision = decide(GenerationRequest(operation=Operation.CHARACTER), no_characters, CATALOG, NOW)
    assert decision.code == "operation_not_allowed"
    assert "revision 3" in decision.message and "characters" in decision.message


def test_an_edit_runs_on_todays_pinned_snapshot_and_keeps_its_sources_length():
    request = GenerationRequest(operation=Operation.EDIT, seconds=10, size="1280x720")
    decision = decide(request, policy(default_model=NEW, allowed_snapshots=frozenset({NEW})), CATALOG, NOW)
    assert (decision.snapshot, decision.seconds, decision.size) == (NEW, 10, "1280x720")


def test_an_edit_is_refused_where_the_snapshot_has_no_edits():
    decision = decide(GenerationRequest(operation=Operation.EDIT, seconds=5), policy(default_model=LUMEN), CATALOG, NOW)
    assert decision.code == "operation_not_supported" and "edits" in decision.message


def test_an_extension_answers_with_the_stitched_total_and_costs_the_new_segment():
    request = GenerationRequest(operation=Operation.EXTEND, seconds=8, source_seconds=12)
    decision = decide(request, policy(), CATALOG, NOW)
    assert decision.seconds == 20 and decision.estimated_cost == Decimal("0.8000")


def test_an_extension_length_the_snapshot_lacks_is_refused():
    request = GenerationRequest(operation=Operation.EXTEND, seconds=12, source_seconds=5)
    decision = decide(request, policy(default_model=LUMEN), CATALOG, NOW)
    assert (decision.code, decision.param) == ("unsupported_parameter", "seconds")
    assert "4, 8" in decision.message


def test_the_policys_longest_video_bounds_the_stitched_total():
    request = GenerationRequest(operation=Operation.EXTEND, seconds=8, source_seconds=8)
    decision = decide(request, policy(max_seconds=12), CATALOG, NOW)
    assert (decision.code, decision.param) == ("parameter_not_allowed", "seconds")
    assert "makes 16" in decision.message


def test_an_extension_keeps_its_sources_size_only_where_the_snapshot_makes_it():
    request = GenerationRequest(operation=Operation.EXTEND, seconds=4, source_seconds=5, size="1280x720")
    decision = decide(request, policy(default_model=LUMEN), CATALOG, NOW)
    assert (decision.code, decision.param) == ("unsupported_parameter", "size")


def test_an_extension_within_budget_only():
    request = GenerationRequest(operation=Operation.EXTEND, seconds=8, source_seconds=4)
    decision = decide(request, policy(monthly_budget=Decimal("0.50")), CATALOG, NOW)
    assert decision.code == "budget_exceeded"


# Properties

operations = st.sampled_from(OPERATIONS)
requests = st.builds(
    GenerationRequest,
    operation=operations,
    model=st.sampled_from([None, OLD, NEW, LUMEN, "sora-2"]),
    seconds=st.one_of(st.none(), st.integers(1, 25)),
    size=st.one_of(st.none(), st.sampled_from(["720x1280", "1280x720"])),
    routing_bucket=st.integers(0, 99),
    source_seconds=st.integers(0, 20),
)
policies = st.builds(
    PolicyView,
    revision_id=st.just(1),
    default_model=st.sampled_from([OLD, NEW, LUMEN]),
    allowed_snapshots=st.frozensets(st.sampled_from([OLD, NEW, LUMEN]), min_size=1),
    alias_requests=st.sampled_from(["follow", "pin", "refuse"]),
    max_seconds=st.one_of(st.none(), st.integers(1, 40)),
    monthly_budget=st.one_of(st.none(), st.decimals(0, 10, places=2)),
    allowed_operations=st.one_of(st.none(), st.frozensets(operations)),
)


@settings(max_examples=3000, deadline=None)
@given(requests, policies)
def test_no_operation_runs_where_the_snapshot_lacks_it_or_the_policy_forbids_it(req, pol):
    decision = decide(req, pol, CATALOG, NOW)
    if isinstance(decision, Refusal):
        assert decision.code and decision.message
        if decision.code in ("operation_not_supported", "operation_not_allowed"):
            assert f"'{req.operation}'" in decision.message
        return
    snapshot = CATALOG.snapshots[decision.snapshot]
    feature = OPERATION_FEATURES.get(req.operation)
    assert feature is None or feature in snapshot.features
    assert not pol.allowed_operations or req.operation in pol.allowed_operations
    if req.operation == Operation.EXTEND:
        segment = req.seconds if req.seconds is not None else 4
        assert segment in snapshot.extension_seconds
        assert decision.seconds == req.source_seconds + segment
    if pol.max_seconds is not None and req.operation != Operation.CHARACTER:
        assert decision.seconds <= pol.max_seconds
    if req.operation != Operation.CHARACTER:
        assert decision.size in snapshot.sizes
    if pol.monthly_budget is not None and decision.estimated_cost:  # a character costs nothing
        assert decision.estimated_cost <= pol.monthly_budget


@settings(max_examples=1000, deadline=None)
@given(requests, policies)
def test_edits_extensions_and_characters_name_no_model_and_run_on_the_pinned_snapshot(req, pol):
    if req.operation not in (Operation.EDIT, Operation.EXTEND, Operation.CHARACTER):
        return
    decision = decide(GenerationRequest(**{**req.__dict__, "model": None}), pol, CATALOG, NOW)
    if isinstance(decision, Accept):
        assert decision.snapshot == CATALOG.resolve(pol.default_model) and decision.arm == ""


@settings(max_examples=500, deadline=None)
@given(policies, st.sampled_from([Operation.CREATE, Operation.REMIX]))
def test_forbidding_an_operation_refuses_it_whatever_else_the_request_says(pol, operation):
    forbidding = PolicyView(**{**pol.__dict__, "allowed_operations": frozenset(OPERATIONS) - {operation}})
    decision = decide(GenerationRequest(operation=operation, model=OLD), forbidding, CATALOG, NOW)
    assert isinstance(decision, Refusal)
