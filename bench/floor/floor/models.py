import secrets

from django.db import models


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


class Submission(models.Model):
    """A slim generation row: what a submission must record, and nothing a dashboard adds."""

    video_id = models.CharField(max_length=40, unique=True, default=new_video_id)
    status = models.CharField(max_length=16, default="queued")
    model = models.CharField(max_length=64)
    prompt = models.TextField()
    seconds = models.PositiveSmallIntegerField()
    size = models.CharField(max_length=16)
    idempotency_key = models.CharField(max_length=255, blank=True)
    client_ip = models.GenericIPAddressField(null=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
