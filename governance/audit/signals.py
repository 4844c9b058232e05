"""Security events that Django raises itself, recorded in the audit trail."""

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from governance.audit.services import Actor, record_event


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def record_failed_login(sender, credentials: dict, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    remote = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    record_event(action="login.failed", actor=Actor.system("login"), payload={"username": username, "ip": remote})
