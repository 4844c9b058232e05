"""The periodic recheck (beat: recheck_sso_users): the provider's userinfo is asked about every user whose
access token still lasts; a user it no longer vouches for loses what their groups granted and is signed out;
sessions the provider has not confirmed for OIDC_RECHECK_SECONDS end."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.projects.models import Membership, Role
from governance.sso import access_tokens
from governance.sso.models import SsoIdentity
from governance.sso.services import recheck_users
from governance.sso.tasks import recheck_sso_users
from tests.factories import make_member, make_project
from tests.oidc_provider import sign_in_through_provider

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def alice(client, oidc_provider, settings):
    """alice, a developer of shop through her group, signed in through the provider in `client`."""
    make_project("shop")
    settings.OIDC_ROLE_MAP = "video-devs=shop:developer"
    oidc_provider.add_user("alice", groups=["video-devs"])
    sign_in_through_provider(client, "alice")
    return User.objects.get(username="alice")


def roles(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("project__slug", "role"))


def signed_in(client) -> bool:
    return client.get(reverse("dashboard:overview")).status_code == 200


def test_a_user_the_provider_still_vouches_for_is_confirmed_and_keeps_their_session(client, alice):
    before = SsoIdentity.objects.get(user=alice).last_verified_at

    assert recheck_sso_users() == {"confirmed": 1}

    assert SsoIdentity.objects.get(user=alice).last_verified_at > before
    assert roles(alice) == {"shop": Role.DEVELOPER}
    assert signed_in(client)


def test_a_group_removed_at_the_provider_takes_the_role_away_and_ends_the_sessions(client, alice, oidc_provider):
    oidc_provider.set_groups("alice", [])

    assert recheck_users() == {"confirmed": 1}

    assert roles(alice) == {}
    assert not signed_in(client)
    ended = AuditEvent.objects.get(action="user.sessions_ended")
    assert ended.payload == {
        "user": "alice",
        "sessions": 1,
        "reason": "the provider's groups no longer grant shop:developer",
    }
    assert AuditEvent.objects.filter(action="sso.roles_changed").last().payload["via"] == "userinfo"


def test_a_user_deleted_at_the_provider_loses_every_mapped_role_and_is_signed_out(client, alice, oidc_provider):
    ads = make_project("ads")
    make_member(ads, Role.VIEWER, user=alice)  # by hand: stays, but alice can no longer sign in to use it
    oidc_provider.remove_user("alice")

    assert recheck_users() == {"refused": 1}

    assert roles(alice) == {"ads": Role.VIEWER}
    assert not signed_in(client)
    ended = AuditEvent.objects.get(action="user.sessions_ended")
    assert ended.payload["reason"] == "the provider refused the user's access token at its userinfo endpoint"
    assert AuditEvent.objects.filter(action="member.removed", actor_label="sso").count() == 1
    assert recheck_users() == {}  # the refused token is forgotten; the session is gone


def test_once_the_token_has_expired_a_session_not_confirmed_for_the_bound_ends_and_the_roles_wait(
    client, alice, settings
):
    # The access token has expired (and no refresh token was kept): nothing can be asked at the provider.
    access_tokens.forget(identity_id=SsoIdentity.objects.get(user=alice).pk)
    settings.OIDC_RECHECK_SECONDS = 3600

    assert recheck_users() == {}
    assert signed_in(client)

    assert recheck_users(now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3601)) == {"sessions ended": 1}
    assert not signed_in(client)
    assert roles(alice) == {"shop": Role.DEVELOPER}  # until their next sign-in says otherwise
    ended = AuditEvent.objects.get(action="user.sessions_ended")
    assert ended.payload["reason"] == "the provider has not confirmed the user for more than 3600 seconds"


def test_a_provider_that_cannot_be_reached_changes_nothing(client, alice, settings):
    settings.OIDC_USERINFO_ENDPOINT = "http://127.0.0.1:9/userinfo"

    assert recheck_users() == {"unreachable": 1}

    assert roles(alice) == {"shop": Role.DEVELOPER}
    assert signed_in(client)


def test_with_single_sign_on_off_nothing_is_checked(client, alice, settings):
    settings.OIDC_ISSUER = ""

    assert recheck_users() == {}
    assert signed_in(client)
