"""The sign-in page: the password form while LOCAL_LOGIN is on, a refusal of its posts when it is off."""

from django.conf import settings
from django.contrib.auth.views import LoginView

from governance.accounts.forms import LoginForm

PASSWORDS_OFF = (
    "Password sign-in is turned off on this server (LOCAL_LOGIN=0). Sign in with your organisation's "
    "single sign-on; break-glass administrators sign in at the admin site."
)


class SignInView(LoginView):
    authentication_form = LoginForm

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "local_login": settings.LOCAL_LOGIN}

    def post(self, request, *args, **kwargs):
        if settings.LOCAL_LOGIN:
            return super().post(request, *args, **kwargs)
        context = self.get_context_data(form=self.get_form_class()(request), refusal=PASSWORDS_OFF)
        return self.render_to_response(context, status=403)
