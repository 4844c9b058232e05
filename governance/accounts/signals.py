"""Every failed sign-in is counted and audited here, whichever form or backend asked Django to authenticate."""

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from governance.accounts import login_throttling
from governance.infra.client_address import client_address


@receiver(user_login_failed, dispatch_uid="accounts-sign-in-failed")
def count_failed_sign_in(sender, credentials: dict, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))
    login_throttling.note_failed_login(username=username, ip=client_address(request))
