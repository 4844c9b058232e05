"""The audit chain's periodic work: a signed checkpoint whenever events were added."""

import logging

from celery import shared_task

from governance.audit.checkpoints import CheckpointRefused, checkpoint_if_due

logger = logging.getLogger(__name__)


@shared_task
def write_audit_checkpoint() -> None:
    try:
        checkpoint_if_due()
    except CheckpointRefused as error:
        logger.error("audit checkpoint refused, the chain needs an auditor's attention: %s", error)
