from celery import shared_task

from governance.snapshot_migrations.services import check_rollouts


@shared_task
def check_rollout_health() -> int:
    """Judge every rollout's health gates on the generation log; beat runs it every minute."""
    return check_rollouts()
