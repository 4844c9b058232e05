"""Which roles a user's groups grant: OIDC_ROLE_MAP and the mappings kept in the admin, together."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.projects.models import Role
from governance.sso.mapping import RoleGrant, granted_roles, parse_role_map
from governance.sso.models import AUDITOR, GroupRoleMapping
from tests.factories import make_project, make_user


def test_the_compact_form_names_a_project_and_role_or_the_site_wide_auditor():
    grants = parse_role_map(" video-devs = shop:developer ;compliance=auditor\nleads=shop:approver; ")

    assert grants == [
        RoleGrant("video-devs", "shop", Role.DEVELOPER),
        RoleGrant("compliance", None, AUDITOR),
        RoleGrant("leads", "shop", Role.APPROVER),
    ]


def test_a_group_that_is_a_distinguished_name_keeps_its_own_equals_signs():
    assert parse_role_map("cn=devs,ou=groups,dc=example=shop:viewer") == [
        RoleGrant("cn=devs,ou=groups,dc=example", "shop", Role.VIEWER)
    ]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("video-devs", "write it as group=project:role or group=auditor"),
        ("=shop:viewer", "write it as group=project:role or group=auditor"),
        ("devs=shop", "write it as group=project:role or group=auditor"),
        ("devs=shop:owner", "'owner' is not a role; the roles are viewer, developer, approver, admin"),
    ],
)
def test_a_malformed_entry_is_refused_with_what_is_wrong(entry, says):
    with pytest.raises(ImproperlyConfigured) as refusal:
        parse_role_map(f"ok=shop:viewer;{entry}")

    assert f"OIDC_ROLE_MAP entry {entry!r}: {says}" in str(refusal.value)


@pytest.mark.django_db
def test_the_highest_role_granted_in_a_project_counts_and_admin_mappings_add_to_the_variable(settings):
    shop, ads = make_project("shop"), make_project("ads")
    settings.OIDC_ROLE_MAP = "devs=shop:developer;leads=shop:approver;devs=nowhere:admin"
    GroupRoleMapping.objects.create(group="devs", project=ads, role=Role.VIEWER)
    GroupRoleMapping.objects.create(group="compliance", project=None, role=AUDITOR)

    granted = granted_roles(["devs", "leads", "unmapped"])

    assert granted.projects == {shop.pk: (shop, Role.APPROVER), ads.pk: (ads, Role.VIEWER)}
    assert granted.auditor is False
    assert granted_roles(["compliance"]).auditor is True
    assert granted_roles([]).projects == {}


@pytest.mark.django_db
def test_a_mapping_made_changed_and_deleted_in_the_admin_is_audited(client):
    shop = make_project("shop")
    admin = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    add = reverse("admin:sso_grouprolemapping_add")

    client.post(add, {"group": "video-devs", "project": shop.pk, "role": Role.DEVELOPER})
    mapping = GroupRoleMapping.objects.get()
    change = reverse("admin:sso_grouprolemapping_change", args=[mapping.pk])
    client.post(change, {"group": "video-devs", "project": shop.pk, "role": Role.APPROVER})
    client.post(reverse("admin:sso_grouprolemapping_delete", args=[mapping.pk]), {"post": "yes"})

    events = AuditEvent.objects.filter(action="sso.mapping_changed").order_by("sequence")
    assert [(event.payload["change"], event.actor_label) for event in events] == [
        ("created", admin.username),
        ("changed", admin.username),
        ("deleted", admin.username),
    ]
    assert events[1].payload["from"]["role"] == "developer" and events[1].payload["to"]["role"] == "approver"
    assert not GroupRoleMapping.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_an_auditor_mapping_with_a_project_and_a_role_without_one(client):
    shop = make_project("shop")
    client.force_login(make_user(is_staff=True, is_superuser=True))
    add = reverse("admin:sso_grouprolemapping_add")

    client.post(add, {"group": "compliance", "project": shop.pk, "role": AUDITOR})
    client.post(add, {"group": "devs", "project": "", "role": Role.DEVELOPER})

    assert not GroupRoleMapping.objects.exists()
    assert not AuditEvent.objects.filter(action="sso.mapping_changed").exists()
