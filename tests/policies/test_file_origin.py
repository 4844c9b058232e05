"""file_origin(): whether a policy file set an environment's policy, and drift when it was changed outside since."""

import pytest

from governance.policies.descriptions import revisions_of
from governance.policies.selectors import file_origin
from tests.factories import NEW, OLD, make_environment, revise

pytestmark = pytest.mark.django_db

SHA = "ab" * 32


def test_a_policy_no_file_ever_set_has_no_file_origin():
    environment = make_environment()
    revise(environment, default_model=NEW)

    assert file_origin(list(revisions_of(environment))) is None


def test_the_newest_revision_from_a_file_is_set_from_it_without_drift():
    environment = make_environment()
    applied = revise(environment, default_model=NEW, source_file="shop.yaml", source_sha256=SHA)

    origin = file_origin(list(revisions_of(environment)))

    assert origin.applied == applied and not origin.drifted


def test_a_revision_written_outside_the_file_since_is_drift():
    environment = make_environment()
    applied = revise(environment, default_model=NEW, source_file="shop.yaml", source_sha256=SHA)
    edited = revise(environment, default_model=OLD, reason="back in the editor")

    origin = file_origin(list(revisions_of(environment)))

    assert origin.applied == applied and origin.drifted
    assert origin.changed_since == [edited]


def test_applying_a_file_again_ends_the_drift():
    environment = make_environment()
    revise(environment, default_model=NEW, source_file="shop.yaml", source_sha256=SHA)
    revise(environment, default_model=OLD)
    again = revise(environment, default_model=NEW, source_file="shop.yaml", source_sha256=SHA)

    origin = file_origin(list(revisions_of(environment)))

    assert origin.applied == again and not origin.drifted
