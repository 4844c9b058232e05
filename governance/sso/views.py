"""The two steps of a sign-in through the provider: off to it, and back from it (mozilla-django-oidc's views).

Every way it can fail ends on the sign-in page with a message that says why, never a server error.
"""

import logging

import requests
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from governance.sso.backends import library_setting
from governance.sso.provider import ProviderUnavailable, endpoints, sso_enabled

logger = logging.getLogger(__name__)

UNREACHABLE = "The sign-in provider could not be reached just now; try again in a moment."
NOT_CONFIRMED = "The sign-in provider did not confirm who you are; try again."
EXPIRED = "That sign-in was started in another browser or has expired; start it again here."
INACTIVE = "Your account here is deactivated; ask an administrator."


def _failed(request, message: str):
    messages.error(request, message)
    return redirect("login")


class StartSignIn(OIDCAuthenticationRequestView):
    get_settings = staticmethod(library_setting)

    def __init__(self, *args, **kwargs):
        # The library reads the authorization endpoint here; it is read in `get`, where a failure can be shown.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoints().authorization_endpoint
        except ProviderUnavailable as error:
            logger.warning("Single sign-on could not start: %s", error)
            return _failed(request, UNREACHABLE)
        self.OIDC_RP_CLIENT_ID = library_setting("OIDC_RP_CLIENT_ID")
        return super().get(request)


class FinishSignIn(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(library_setting)

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        if "code" in request.GET and request.GET.get("state") not in request.session.get("oidc_states", {}):
            return _failed(request, EXPIRED)
        try:
            issuer = endpoints().issuer
            if request.GET.get("iss", issuer) != issuer:  # RFC 9207's check, where the provider sends `iss`
                return _failed(request, NOT_CONFIRMED)
            return super().get(request)
        except ProviderUnavailable as error:
            logger.warning("Single sign-on could not finish: %s", error)
            return _failed(request, UNREACHABLE)
        except requests.RequestException as error:
            logger.warning("The provider refused or failed the code exchange: %s", error)
            return _failed(request, NOT_CONFIRMED)
        except SuspiciousOperation as error:
            logger.warning("A sign-in through the provider was refused: %s", error)
            return _failed(request, NOT_CONFIRMED)

    def login_failure(self):
        request = self.request
        if request.GET.get("error"):
            said = (request.GET.get("error_description") or request.GET["error"])[:200]
            return _failed(request, f"The sign-in provider refused the sign-in: {said}")
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            return _failed(request, INACTIVE)
        return _failed(request, NOT_CONFIRMED)
