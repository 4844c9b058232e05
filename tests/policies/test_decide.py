"""The policy engine's rules, one test each, plus properties that must hold for every request."""

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from governance.policies.engine import (
    ALIAS_FOLLOW,
    ALIAS_PIN,
    ALIAS_REFUSE,
    ARM_CANARY,
    ARM_CONTROL,
    ROUTING_BUCKETS,
    Accept,
    CatalogView,
    GenerationRequest,
    Operation,
    PolicyView,
    Refusal,
    SnapshotInfo,
    decide,
    recheck,
    routing_bucket,
)

OLD, NEW, GONE = "sora-2-2025-10-06", "sora-2-2025-12-08", "sora-2-2024-01-01"
PRO = "sora-2-pro-2025-10-06"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PRICE = {"720x1280": Decimal("0.10"), "1280x720": Decimal("0.10")}

CATALOG = CatalogView(
    snapshots={
        OLD: SnapshotInfo(
            name=OLD,
            family="sora-2",
            seconds=(4, 8, 10, 12, 15, 20),
            sizes=("720x1280", "1280x720"),
            features=frozenset({"image_reference", "remix"}),
            price_per_second=PRICE,
        ),
        NEW: SnapshotInfo(
            name=NEW,
            family="sora-2",
            seconds=(4, 8, 10, 12, 15, 20, 25),
            sizes=("720x1280", "1280x720"),
            features=frozenset({"image_reference", "remix", "character_cameos", "storyboards"}),
            price_per_second=PRICE,
            deprecated_on=dt.date(2026, 11, 1),
            shutdown_on=dt.date(2027, 3, 1),
            replacement=OLD,
        ),
        PRO: SnapshotInfo(name=PRO, family="sora-2-pro", seconds=(4,), sizes=("720x1280",), price_per_second=PRICE),
        GONE: SnapshotInfo(
            name=GONE,
            family="sora-2",
            seconds=(4, 8),
            sizes=("720x1280",),
            price_per_second=PRICE,
            deprecated_on=dt.date(2026, 1, 1),
            shutdown_on=dt.date(2026, 9, 24),
            replacement=NEW,
        ),
    },
    aliases={"sora-2": NEW, "sora-2-pro": PRO},
)


def policy(**overrides) -> PolicyView:
    values = dict(
        revision_id=7, default_model=OLD, allowed_snapshots=frozenset({OLD, NEW}), alias_requests=ALIAS_REFUSE
    )
    values.update(overrides)
    return PolicyView(**values)


def request(**overrides) -> GenerationRequest:
    return GenerationRequest(**overrides)


def test_a_request_without_model_runs_on_the_pinned_snapshot():
    decision = decide(request(), policy(), CATALOG, NOW)
    assert isinstance(decision, Accept)
    assert decision.snapshot == OLD
    assert (decision.seconds, decision.size) == (4, "720x1280")


def test_an_explicit_allowed_snapshot_is_accepted():
    assert decide(request(model=NEW), policy(), CATALOG, NOW).snapshot == NEW


def test_a_snapshot_outside_the_allowed_set_is_refused_naming_the_allowed_ones():
    decision = decide(request(model=NEW), policy(allowed_snapshots=frozenset({OLD})), CATALOG, NOW)
    assert decision == Refusal(
        code="model_not_allowed",
        message=f"Snapshot '{NEW}' is not allowed in this environment. Allowed: {OLD}.",
        param="model",
    )


def test_an_unknown_model_is_refused_as_not_found():
    decision = decide(request(model="gpt-video-9"), policy(), CATALOG, NOW)
    assert (decision.code, decision.param) == ("model_not_found", "model")


def test_alias_requests_are_refused_when_the_policy_says_so():
    decision = decide(request(model="sora-2"), policy(alias_requests=ALIAS_REFUSE), CATALOG, NOW)
    assert decision.code == "alias_not_allowed"
    assert OLD in decision.message


def test_following_an_alias_resolves_to_its_current_target():
    decision = decide(request(model="sora-2"), policy(alias_requests=ALIAS_FOLLOW), CATALOG, NOW)
    assert decision.snapshot == NEW


def test_a_pinned_environment_resolves_alias_requests_to_its_pin():
    decision = decide(request(model="sora-2"), policy(alias_requests=ALIAS_PIN), CATALOG, NOW)
    assert decision.snapshot == OLD


def test_an_environment_following_an_alias_defaults_to_the_alias_target():
    decision = decide(request(), policy(default_model="sora-2", alias_requests=ALIAS_FOLLOW), CATALOG, NOW)
    assert decision.snapshot == NEW


def test_an_alias_target_outside_the_allowed_set_is_refused():
    decision = decide(
        request(model="sora-2"), policy(alias_requests=ALIAS_FOLLOW, allowed_snapshots=frozenset({OLD})), CATALOG, NOW
    )
    assert decision.code == "model_not_allowed"


def test_a_shut_down_snapshot_is_refused_with_its_date_and_replacement():
    decision = decide(request(model=GONE), policy(allowed_snapshots=frozenset({OLD, GONE})), CATALOG, NOW)
    assert decision.code == "snapshot_shut_down"
    assert "2026-09-24" in decision.message and NEW in decision.message


def test_a_shut_down_refusal_carries_the_date_and_the_replacement_as_values():
    decision = decide(request(model=GONE), policy(allowed_snapshots=frozenset({OLD, GONE})), CATALOG, NOW)
    assert (decision.shutdown_on, decision.replacement) == (dt.date(2026, 9, 24), NEW)
    assert recheck(GONE, policy(allowed_snapshots=frozenset({GONE})), CATALOG, NOW).shutdown_on == dt.date(2026, 9, 24)


def test_a_snapshot_is_usable_until_its_shutdown_day_begins():
    the_day_before = dt.datetime(2026, 9, 23, 23, 59, tzinfo=dt.UTC)
    decision = decide(request(model=GONE), policy(allowed_snapshots=frozenset({OLD, GONE})), CATALOG, the_day_before)
    assert isinstance(decision, Accept)


def test_a_deprecated_snapshot_is_accepted_and_flagged():
    decision = decide(request(model=NEW), policy(), CATALOG, NOW)
    assert decision.deprecated is True


def test_seconds_the_snapshot_lacks_are_refused_naming_the_parameter():
    decision = decide(request(model=OLD, seconds=25), policy(), CATALOG, NOW)
    assert (decision.code, decision.param) == ("unsupported_parameter", "seconds")
    assert "4, 8, 10, 12, 15, 20" in decision.message


def test_the_newer_snapshot_accepts_25_seconds():
    assert decide(request(model=NEW, seconds=25), policy(), CATALOG, NOW).seconds == 25


def test_a_size_the_snapshot_lacks_is_refused():
    decision = decide(request(size="1920x1080"), policy(), CATALOG, NOW)
    assert (decision.code, decision.param) == ("unsupported_parameter", "size")


def test_a_feature_the_snapshot_lacks_is_refused_naming_the_parameter():
    decision = decide(request(model=OLD, features={"characters": "character_cameos"}), policy(), CATALOG, NOW)
    assert (decision.code, decision.param) == ("unsupported_parameter", "characters")


def test_a_feature_the_snapshot_has_is_accepted():
    decision = decide(request(model=NEW, features={"characters": "character_cameos"}), policy(), CATALOG, NOW)
    assert isinstance(decision, Accept)


def test_policy_limits_seconds_below_the_snapshot():
    decision = decide(request(seconds=12), policy(max_seconds=8), CATALOG, NOW)
    assert (decision.code, decision.param) == ("parameter_not_allowed", "seconds")


def test_policy_limits_sizes():
    decision = decide(request(size="1280x720"), policy(allowed_sizes=frozenset({"720x1280"})), CATALOG, NOW)
    assert (decision.code, decision.param) == ("parameter_not_allowed", "size")


def test_policy_can_forbid_a_feature_the_snapshot_has():
    decision = decide(
        request(model=NEW, features={"characters": "character_cameos"}),
        policy(allowed_features=frozenset({"image_reference"})),
        CATALOG,
        NOW,
    )
    assert (decision.code, decision.param) == ("parameter_not_allowed", "characters")


def test_a_remix_needs_the_remix_feature():
    catalog = CatalogView(snapshots={OLD: SnapshotInfo(name=OLD, seconds=(4,), sizes=("720x1280",))}, aliases={})
    decision = decide(
        request(operation=Operation.REMIX, model=OLD), policy(allowed_snapshots=frozenset({OLD})), catalog, NOW
    )
    assert decision.code == "operation_not_supported" and "does not support remixes" in decision.message


def test_cost_is_price_per_second_times_seconds():
    assert decide(request(seconds=8), policy(), CATALOG, NOW).estimated_cost == Decimal("0.8000")


def test_a_request_beyond_the_monthly_budget_is_refused():
    decision = decide(request(seconds=8), policy(monthly_budget=Decimal("0.50")), CATALOG, NOW)
    assert decision.code == "budget_exceeded"


def test_a_request_that_exactly_uses_up_the_budget_is_accepted():
    decision = decide(request(seconds=8), policy(monthly_budget=Decimal("0.80")), CATALOG, NOW)
    assert isinstance(decision, Accept)


def test_canary_takes_requests_below_its_percentage():
    canary = policy(canary_snapshot=NEW, canary_percent=10)
    chosen = decide(request(routing_bucket=999), canary, CATALOG, NOW)
    assert (chosen.snapshot, chosen.arm) == (NEW, ARM_CANARY)
    control = decide(request(routing_bucket=1000), canary, CATALOG, NOW)
    assert (control.snapshot, control.arm) == (OLD, ARM_CONTROL)


def test_canary_applies_to_explicit_requests_for_the_pin():
    decision = decide(
        request(model=OLD, routing_bucket=0), policy(canary_snapshot=NEW, canary_percent=50), CATALOG, NOW
    )
    assert (decision.snapshot, decision.arm) == (NEW, ARM_CANARY)


def test_canary_does_not_take_requests_it_cannot_serve():
    narrow = CatalogView(
        snapshots={
            **CATALOG.snapshots,
            NEW: SnapshotInfo(name=NEW, seconds=(4,), sizes=("720x1280",), price_per_second=PRICE),
        },
        aliases=CATALOG.aliases,
    )
    decision = decide(
        request(seconds=8, routing_bucket=0), policy(canary_snapshot=NEW, canary_percent=100), narrow, NOW
    )
    assert (decision.snapshot, decision.arm) == (OLD, ARM_CONTROL)


def test_remixes_stay_on_the_source_snapshot_during_a_canary():
    decision = decide(
        request(operation=Operation.REMIX, model=OLD, routing_bucket=0),
        policy(canary_snapshot=NEW, canary_percent=100),
        CATALOG,
        NOW,
    )
    assert (decision.snapshot, decision.arm) == (OLD, "")


def test_a_pinned_environment_refuses_an_alias_of_another_family():
    refused = decide(request(model="sora-2-pro"), policy(alias_requests=ALIAS_PIN), CATALOG, NOW)
    assert (refused.code, refused.param) == ("alias_not_allowed", "model")


def test_a_remix_of_a_canary_video_stays_on_the_canary_snapshot():
    decision = decide(
        request(operation=Operation.REMIX, model=NEW),
        policy(allowed_snapshots=frozenset({OLD}), canary_snapshot=NEW, canary_percent=10),
        CATALOG,
        NOW,
    )
    assert decision.snapshot == NEW


def test_an_empty_feature_list_means_any_feature_the_snapshot_has():
    decision = decide(
        request(model=NEW, features={"characters": "character_cameos"}),
        policy(allowed_features=frozenset()),
        CATALOG,
        NOW,
    )
    assert isinstance(decision, Accept)


def test_recheck_stops_a_snapshot_the_policy_no_longer_allows():
    refusal = recheck(NEW, policy(allowed_snapshots=frozenset({OLD})), CATALOG, NOW)
    assert refusal.code == "snapshot_no_longer_allowed"


def test_recheck_lets_a_canary_snapshot_run():
    assert (
        recheck(NEW, policy(allowed_snapshots=frozenset({OLD}), canary_snapshot=NEW, canary_percent=5), CATALOG, NOW)
        is None
    )


def test_recheck_stops_a_snapshot_that_shut_down_meanwhile():
    assert recheck(GONE, policy(allowed_snapshots=frozenset({GONE})), CATALOG, NOW).code == "snapshot_shut_down"


# Properties: whatever the request and the policy, an acceptance never breaks a rule.

names = st.sampled_from([OLD, NEW, GONE, PRO, "sora-2", "sora-2-pro", "unknown-model", None])
policies = st.builds(
    PolicyView,
    revision_id=st.just(1),
    default_model=st.sampled_from([OLD, NEW, "sora-2"]),
    allowed_snapshots=st.frozensets(st.sampled_from([OLD, NEW, GONE, PRO])),
    alias_requests=st.sampled_from([ALIAS_FOLLOW, ALIAS_PIN, ALIAS_REFUSE]),
    canary_snapshot=st.sampled_from([None, OLD, NEW, GONE]),
    canary_percent=st.integers(0, 100),
    max_seconds=st.one_of(st.none(), st.integers(1, 30)),
    allowed_sizes=st.one_of(st.none(), st.frozensets(st.sampled_from(["720x1280", "1280x720", "1920x1080"]))),
    allowed_features=st.one_of(
        st.none(), st.frozensets(st.sampled_from(["image_reference", "character_cameos", "remix"]))
    ),
    monthly_budget=st.one_of(st.none(), st.decimals(0, 100, places=2)),
)
requests = st.builds(
    GenerationRequest,
    operation=st.sampled_from([Operation.CREATE, Operation.REMIX]),
    model=names,
    seconds=st.one_of(st.none(), st.integers(1, 30)),
    size=st.one_of(st.none(), st.sampled_from(["720x1280", "1280x720", "1920x1080"])),
    features=st.dictionaries(
        st.sampled_from(["input_reference", "characters", "storyboard"]),
        st.sampled_from(["image_reference", "character_cameos", "storyboards"]),
        max_size=2,
    ),
    routing_bucket=st.integers(0, ROUTING_BUCKETS - 1),
)
moments = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 1, 1), timezones=st.just(dt.UTC))


@settings(max_examples=3000, deadline=None)
@given(requests, policies, moments)
def test_no_acceptance_breaks_a_rule(req, pol, now):
    decision = decide(req, pol, CATALOG, now)
    if isinstance(decision, Refusal):
        assert decision.code and decision.message
        return
    snapshot = CATALOG.snapshots[decision.snapshot]
    on_canary = decision.arm == ARM_CANARY or req.operation == Operation.REMIX
    allowed = pol.allowed_snapshots | ({pol.canary_snapshot} if on_canary else set())
    assert decision.snapshot in allowed
    assert not snapshot.is_shut_down(now)
    assert decision.seconds in snapshot.seconds and decision.size in snapshot.sizes
    assert set(req.features.values()) <= snapshot.features
    if req.operation == Operation.REMIX:
        assert "remix" in snapshot.features and decision.arm == ""
    if pol.max_seconds is not None:
        assert decision.seconds <= pol.max_seconds
    if pol.allowed_sizes:
        assert decision.size in pol.allowed_sizes
    if pol.allowed_features:
        assert set(req.features.values()) <= pol.allowed_features
    if pol.monthly_budget is not None:
        assert decision.estimated_cost <= pol.monthly_budget
    if req.model in CATALOG.aliases:
        assert pol.alias_requests != ALIAS_REFUSE


@settings(max_examples=500, deadline=None)
@given(requests, policies, moments)
def test_canary_share_never_exceeds_its_percentage(req, pol, now):
    decision = decide(req, pol, CATALOG, now)
    if isinstance(decision, Accept) and decision.arm == ARM_CANARY:
        assert req.routing_bucket < pol.canary_percent * 100


def test_a_subject_keeps_its_bucket_and_so_its_arm_as_the_canary_grows():
    in_canary_at_10 = [f"user-{n}" for n in range(2000) if routing_bucket(f"user-{n}") < 10 * 100]
    assert in_canary_at_10
    for percent in (10, 25, 50, 100):
        canary = policy(canary_snapshot=NEW, canary_percent=percent)
        for subject in in_canary_at_10:
            decision = decide(request(routing_bucket=routing_bucket(subject)), canary, CATALOG, NOW)
            assert decision.arm == ARM_CANARY
    assert all(routing_bucket(subject) == routing_bucket(subject) for subject in in_canary_at_10)


def test_the_observed_canary_share_is_within_one_point_of_the_target_over_100000_requests():
    for percent in (10, 50):
        canary = policy(canary_snapshot=NEW, canary_percent=percent)
        arms = [
            decide(request(routing_bucket=routing_bucket(f"subject-{n}")), canary, CATALOG, NOW).arm
            for n in range(100_000)
        ]
        share = arms.count(ARM_CANARY) / len(arms) * 100
        assert abs(share - percent) <= 1, share


def test_without_a_subject_generation_ids_split_within_one_point_of_the_target():
    from governance.generations.models import new_video_id

    canary = policy(canary_snapshot=NEW, canary_percent=10)
    arms = [
        decide(request(routing_bucket=routing_bucket(new_video_id())), canary, CATALOG, NOW).arm for _ in range(100_000)
    ]
    share = arms.count(ARM_CANARY) / len(arms) * 100
    assert abs(share - 10) <= 1, share


def test_a_snapshot_that_only_animates_an_image_refuses_a_prompt_alone():
    animator = SnapshotInfo(
        name="animator-1", seconds=(4,), sizes=("720x1280",), features=frozenset({"image_reference", "image_required"})
    )
    catalog = CatalogView(snapshots={"animator-1": animator}, aliases={})
    policy = PolicyView(revision_id=1, default_model="animator-1", allowed_snapshots=frozenset({"animator-1"}))

    refused = decide(GenerationRequest(), policy, catalog, NOW)
    with_image = decide(GenerationRequest(features={"input_reference": "image_reference"}), policy, catalog, NOW)

    assert isinstance(refused, Refusal)
    assert (refused.code, refused.param) == ("missing_required_parameter", "input_reference")
    assert isinstance(with_image, Accept)


def test_a_snapshot_that_takes_images_only_inline_refuses_a_link_naming_the_parameter():
    veo = SnapshotInfo(
        name="veo-x",
        seconds=(4,),
        sizes=("720x1280",),
        features=frozenset({"inline_images_only", "image_reference", "reference_images"}),
    )
    catalog = CatalogView(snapshots={"veo-x": veo}, aliases={})
    policy = PolicyView(revision_id=1, default_model="veo-x", allowed_snapshots=frozenset({"veo-x"}))
    features = {"reference_images": "reference_images"}

    linked = decide(GenerationRequest(features=features, image_links=("reference_images",)), policy, catalog, NOW)
    inline = decide(GenerationRequest(features=features), policy, catalog, NOW)

    assert isinstance(linked, Refusal)
    assert (linked.code, linked.param) == ("unsupported_parameter", "reference_images")
    assert isinstance(inline, Accept)
