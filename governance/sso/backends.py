"""Signing in with the OpenID provider: mozilla-django-oidc's authorization code flow, with our rules.

The library (https://mozilla-django-oidc.readthedocs.io/) makes the request, keeps state, nonce
and PKCE verifier in the session, exchanges the code and checks the ID token's signature against
the provider's keys. What it leaves to us, we do here: the endpoints come from discovery
(`provider.endpoints`), the ID token must name our issuer and our client, the user is found by
their `sub` (never by e-mail), and their roles follow their groups (`services.sign_in`).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from governance.sso import access_tokens, services
from governance.sso.provider import endpoints, sso_enabled

# What the library reads through `get_settings`, in our words (docs/single-sign-on.md lists the variables).
LIBRARY_SETTINGS = {
    "OIDC_RP_CLIENT_ID": lambda: settings.OIDC_CLIENT_ID,
    "OIDC_RP_CLIENT_SECRET": lambda: settings.OIDC_CLIENT_SECRET,
    "OIDC_RP_SCOPES": lambda: settings.OIDC_SCOPES,
    "OIDC_RP_SIGN_ALGO": lambda: settings.OIDC_SIGN_ALGO,
    "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: endpoints().authorization_endpoint,
    "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "sso:callback",
    "OIDC_USE_PKCE": lambda: True,
    "OIDC_TOKEN_USE_BASIC_AUTH": lambda: True,  # client_secret_basic, the spec's default
    "OIDC_TIMEOUT": lambda: settings.OIDC_TIMEOUT_SECONDS,
    "OIDC_ALLOW_UNSECURED_JWT": lambda: False,
    "LOGIN_REDIRECT_URL_FAILURE": lambda: "login",
}


def library_setting(name: str, *default):
    if name in LIBRARY_SETTINGS:
        return LIBRARY_SETTINGS[name]()
    return import_from_settings(name, *default)


class ProviderBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(library_setting)

    def __init__(self, *args, **kwargs):
        # The library reads the provider's endpoints here; Django makes a backend for every sign-in, password
        # ones included, so they are read only when a sign-in through the provider needs them.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None  # not the callback of a sign-in we started (only the callback view passes a nonce)
        self.provider = endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = self.provider.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = self.provider.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.provider.jwks_uri
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.token_expires_in = None
        return super().authenticate(request, **kwargs)

    def get_token(self, payload):
        token_info = super().get_token(payload)
        self.token_expires_in = token_info.get("expires_in")
        return token_info

    def verify_token(self, token, **kwargs):
        """The library checks the signature, expiry and nonce; the issuer and audience are checked here."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != self.provider.issuer:
            raise SuspiciousOperation(f"The ID token was issued by {payload.get('iss')!r}, not by our provider.")
        if settings.OIDC_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued for another client.")
        if not payload.get("sub"):
            raise SuspiciousOperation("The ID token names no subject.")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, with the userinfo endpoint's (where the provider has one) on top."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return payload
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("The userinfo endpoint answered about someone else.")
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        identity = services.sign_in(issuer=self.provider.issuer, claims=claims)
        if access_token:
            access_tokens.remember(identity_id=identity.pk, access_token=access_token, expires_in=self.token_expires_in)
        return identity.user

    def get_user(self, user_id):
        # Django's rule, which the library's own get_user skips: a deactivated user's sessions end.
        return ModelBackend.get_user(self, user_id)
