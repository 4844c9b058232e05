"""Signing in through a real OpenID provider (tests/oidc/provider.mjs): users made on first sign-in,
found again by their `sub`, and their roles following their groups at every sign-in."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.projects.models import AUDITOR_GROUP, Membership, Role
from governance.projects.permissions import can_see_all_projects
from governance.snapshot_migrations import services as plans
from governance.snapshot_migrations.models import SignOff
from governance.sso.models import SsoIdentity
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user
from tests.oidc_provider import sign_in_through_provider
from tests.snapshot_migrations.conftest import add_evidence

pytestmark = pytest.mark.django_db

User = get_user_model()


def roles(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("project__slug", "role"))


def test_a_first_sign_in_makes_the_user_and_grants_what_their_groups_map_to(client, oidc_provider, settings):
    make_project("shop")
    settings.OIDC_ROLE_MAP = "video-devs=shop:developer"
    oidc_provider.add_user("alice", groups=["video-devs"], sub="00u-alice")

    response = sign_in_through_provider(client, "alice")

    assert response.status_code == 302 and response["Location"] == reverse("dashboard:overview")
    alice = User.objects.get(username="alice")
    assert not alice.has_usable_password()
    assert alice.email == "alice@example.test"
    assert SsoIdentity.objects.get(user=alice).subject == "00u-alice"
    assert roles(alice) == {"shop": Role.DEVELOPER}
    assert "Signed in as <strong>alice</strong>" in client.get(reverse("dashboard:overview")).content.decode()
    created = AuditEvent.objects.get(action="sso.user_created")
    assert created.payload == {"user": "alice", "issuer": oidc_provider.issuer, "subject": "00u-alice"}
    granted = AuditEvent.objects.get(action="member.changed", payload__user="alice")
    assert (granted.actor_label, granted.payload["to"]) == ("sso", Role.DEVELOPER)
    synced = AuditEvent.objects.get(action="sso.roles_changed")
    assert synced.payload["granted"] == ["shop:developer"] and synced.payload["groups"] == ["video-devs"]


def test_a_returning_user_is_found_by_sub_and_an_existing_account_is_never_taken_over(client, oidc_provider):
    local_alice = make_user("alice")
    oidc_provider.add_user("alice", groups=[], sub="00u-alice")

    sign_in_through_provider(client, "alice")
    client.post(reverse("logout"))
    users = oidc_provider.users()
    users["alice"]["email"] = "alice@new.example.test"
    oidc_provider.save(users)
    sign_in_through_provider(client, "alice")

    identity = SsoIdentity.objects.get(subject="00u-alice")
    assert identity.user.username == "alice-2"
    assert identity.user != local_alice
    assert identity.user.email == "alice@new.example.test"
    assert User.objects.filter(username__startswith="alice").count() == 2
    assert AuditEvent.objects.filter(action="sso.user_created").count() == 1


def test_a_group_removed_at_the_provider_takes_the_role_away_at_the_next_sign_in_and_its_sign_offs(
    client, oidc_provider, settings
):
    shop = make_project("shop")
    make_member(shop, Role.ADMIN)
    settings.OIDC_ROLE_MAP = "video-approvers=shop:approver;video-devs=shop:developer"
    oidc_provider.add_user("alice", groups=["video-approvers"])
    sign_in_through_provider(client, "alice")
    alice = User.objects.get(username="alice")
    signed = signed_off_plan(shop, signer=alice)

    oidc_provider.set_groups("alice", ["video-devs"])
    client.post(reverse("logout"))
    sign_in_through_provider(client, "alice")

    assert roles(alice) == {"shop": Role.DEVELOPER}
    sign_off = SignOff.objects.get(pk=signed.pk)
    assert sign_off.reset_at is not None
    assert sign_off.reset_reason == "no longer counts: alice is now developer, below the approver role the step needs"
    synced = AuditEvent.objects.filter(action="sso.roles_changed").last()
    assert synced.payload["changed"] == ["shop:approver → developer"] and synced.payload["via"] == "sign-in"

    oidc_provider.set_groups("alice", [])
    client.post(reverse("logout"))
    sign_in_through_provider(client, "alice")

    assert roles(alice) == {}
    removed = AuditEvent.objects.get(action="member.removed", payload__user="alice")
    assert removed.actor_label == "sso"


def test_a_role_granted_by_hand_is_left_alone(client, oidc_provider, settings):
    shop, ads = make_project("shop"), make_project("ads")
    settings.OIDC_ROLE_MAP = "video-devs=shop:developer;video-devs=ads:developer"
    oidc_provider.add_user("alice", groups=["video-devs"])
    sign_in_through_provider(client, "alice")
    alice = User.objects.get(username="alice")
    Membership.objects.filter(user=alice, project=ads).delete()
    make_member(ads, Role.APPROVER, user=alice)  # an admin's own decision, by hand

    oidc_provider.set_groups("alice", [])
    client.post(reverse("logout"))
    sign_in_through_provider(client, "alice")

    assert roles(alice) == {"ads": Role.APPROVER}
    assert shop.memberships.count() == 0


def test_the_auditor_role_follows_its_group_and_a_hand_made_auditor_stays(client, oidc_provider, settings):
    settings.OIDC_ROLE_MAP = "compliance=auditor"
    oidc_provider.add_user("carol", groups=["compliance"])
    oidc_provider.add_user("dave", groups=[])

    sign_in_through_provider(client, "carol")
    carol = User.objects.get(username="carol")
    assert can_see_all_projects(carol)
    added = AuditEvent.objects.get(action="user.changed", payload__user="carol")
    assert added.payload["changed"]["groups"] == {"from": [], "to": [AUDITOR_GROUP]}

    oidc_provider.set_groups("carol", [])
    client.post(reverse("logout"))
    sign_in_through_provider(client, "carol")
    assert not can_see_all_projects(User.objects.get(username="carol"))

    sign_in_through_provider(client, "dave")
    dave = User.objects.get(username="dave")
    dave.groups.add(User.groups.field.related_model.objects.get(name=AUDITOR_GROUP))  # by hand
    client.post(reverse("logout"))
    sign_in_through_provider(client, "dave")
    assert can_see_all_projects(User.objects.get(username="dave"))


def test_the_last_admin_of_a_project_keeps_the_role_and_the_trail_says_why(client, oidc_provider, settings):
    make_project("shop")
    settings.OIDC_ROLE_MAP = "owners=shop:admin"
    oidc_provider.add_user("alice", groups=["owners"])
    sign_in_through_provider(client, "alice")

    oidc_provider.set_groups("alice", [])
    client.post(reverse("logout"))
    sign_in_through_provider(client, "alice")

    assert roles(User.objects.get(username="alice")) == {"shop": Role.ADMIN}
    kept = AuditEvent.objects.filter(action="sso.roles_changed").last().payload["kept"]
    assert kept == [{"role": "shop:admin", "reason": "alice is the last admin of shop; make someone else admin first."}]


def test_the_sign_in_page_offers_the_provider_only_when_an_issuer_is_set(client, oidc_provider, settings):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Local IdP" in page
    assert 'name="password"' in page

    settings.OIDC_ISSUER = ""
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page
    assert client.get("/oidc/start/").status_code == 404


def test_a_provider_that_cannot_be_reached_is_a_message_on_the_sign_in_page(client, settings, oidc_provider):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # discard: nothing answers there

    response = client.get("/oidc/start/", follow=True)

    assert response.redirect_chain[-1][0] == reverse("login")
    assert "The sign-in provider could not be reached just now" in response.content.decode()


def test_a_callback_that_this_browser_did_not_start_is_refused_with_a_message(client, oidc_provider):
    response = client.get("/oidc/callback/", {"code": "stolen", "state": "forged"}, follow=True)

    assert "That sign-in was started in another browser or has expired" in response.content.decode()
    assert not User.objects.exists()


def signed_off_plan(project, *, signer) -> SignOff:
    """A plan in review for `project`'s production, whose compatibility step `signer` signed off."""
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    author = make_member(project, Role.APPROVER)
    plan = plans.create_plan(environment=production, to_snapshot=NEW, reason="Better motion", author=author)
    add_evidence(plan, {})
    plans.submit_for_review(plan=plan, user=author)
    step = plan.steps.get(title="Prompt compatibility tests")
    plans.sign_off(plan=plan, step=step, user=signer, decision="approve", comment="fine")
    return SignOff.objects.get(step=step, user=signer)
