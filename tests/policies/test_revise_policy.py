import pytest
from django.core.exceptions import ValidationError

from governance.audit.models import AuditEvent
from governance.policies.models import PolicyRevision
from governance.policies.services import ProtectedEnvironmentError
from tests.factories import NEW, OLD, make_environment, revise

pytestmark = pytest.mark.django_db


def test_each_change_is_a_new_numbered_revision_with_its_audit_event():
    environment = make_environment(default_model=OLD, allowed_snapshots=[OLD, NEW])
    revision = revise(environment, default_model=NEW, reason="move to the December snapshot")
    assert revision.number == 2
    event = AuditEvent.objects.filter(action="policy.revised").last()
    assert event.environment_id == environment.pk
    assert event.payload["changes"] == {"default_model": {"from": OLD, "to": NEW}}
    assert event.payload["reason"] == "move to the December snapshot"


def test_revisions_are_immutable():
    revision = make_environment().policy_revisions.get()
    revision.default_model = NEW
    with pytest.raises(ValidationError):
        revision.save()
    assert PolicyRevision.objects.get().default_model == OLD


def test_a_protected_environment_changes_only_through_a_migration_plan():
    production = make_environment(name="production", protected=True, default_model=OLD, allowed_snapshots=[OLD])
    with pytest.raises(ProtectedEnvironmentError):
        revise(production, default_model=NEW, allowed_snapshots=[NEW])
    assert production.policy_revisions.count() == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"allowed_snapshots": ["sora-9"]}, "allowed_snapshots"),
        ({"default_model": NEW, "allowed_snapshots": [OLD]}, "default_model"),
        ({"canary_snapshot": OLD, "canary_percent": 10}, "canary_snapshot"),
        ({"canary_percent": 10}, "canary_percent"),
        ({"reason": " "}, "reason"),
    ],
)
def test_an_inconsistent_policy_is_refused_naming_the_field(changes, field):
    environment = make_environment(default_model=OLD, allowed_snapshots=[OLD, NEW])
    with pytest.raises(ValidationError) as error:
        revise(environment, **changes)
    assert field in error.value.message_dict
