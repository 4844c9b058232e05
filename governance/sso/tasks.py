from celery import shared_task

from governance.sso import services


@shared_task
def recheck_sso_users() -> dict[str, int]:
    """Beat: ask the provider about users who signed in through it; end the sessions it no longer vouches for."""
    return services.recheck_users()
