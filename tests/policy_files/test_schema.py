"""Reading a policy file's shape: YAML 1.2, anchors and merge keys, defaults for absent keys."""

from decimal import Decimal

import pytest

from governance.policy_files.schema import PolicyFileInvalid, read_policy_file

BASE = """\
project: shop
environments:
  development: &base
    provider: simulator
    pin: one
    allowed_snapshots: [one, two]
    budget: 500
  testing:
    <<: *base
    pin: two
{extra}"""


def test_merged_keys_are_read_and_absent_keys_take_their_defaults():
    policy_file = read_policy_file(BASE.format(extra=""))

    development, testing = policy_file.environments
    assert (testing.provider, testing.pin, testing.allowed_snapshots) == ("simulator", "two", ["one", "two"])
    assert (testing.budget, testing.alias_requests, testing.rate_limit) == (Decimal("500.00"), "refuse", 600)
    assert (testing.canary_snapshot, testing.sizes, testing.operations) == ("", None, None)


def test_an_error_in_a_merged_key_points_at_the_line_it_was_written_on():
    with pytest.raises(PolicyFileInvalid) as invalid:
        read_policy_file(BASE.format(extra="").replace("budget: 500", "budget: lots"))

    assert [error.shown("f.yaml") for error in invalid.value.errors] == [
        "f.yaml:7: environments.development.budget: must be an amount in US dollars, such as 500 or 499.50",
        "f.yaml:7: environments.testing.budget: must be an amount in US dollars, such as 500 or 499.50",
    ]


def test_yes_and_no_are_text_as_in_yaml_1_2_so_a_boolean_where_a_name_belongs_is_an_error():
    with pytest.raises(PolicyFileInvalid) as invalid:
        read_policy_file(BASE.format(extra="    alias_requests: no\n    protected: yes\n"))

    assert [error.shown("f.yaml") for error in invalid.value.errors] == [
        "f.yaml:11: environments.testing.alias_requests: must be one of follow, pin, refuse",
        "f.yaml:12: environments.testing.protected: must be true or false",
    ]


def test_an_empty_file_says_what_it_should_hold():
    with pytest.raises(PolicyFileInvalid) as invalid:
        read_policy_file("")

    assert [error.shown("f.yaml") for error in invalid.value.errors] == [
        "f.yaml:1: must be a mapping with the keys project and environments"
    ]
