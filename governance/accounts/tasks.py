from celery import shared_task

from governance.accounts import login_throttling


@shared_task
def audit_counted_sign_in_failures() -> int:
    """Beat, every minute: the failed sign-ins counted but not yet in an audit event, one event per address."""
    return login_throttling.audit_counted_failures()
