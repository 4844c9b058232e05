from django.db import models


class LoginThrottle(models.Model):
    """Failed sign-ins for one username or one address in the current window, and its lockout if any."""

    subject = models.CharField(max_length=200, unique=True, help_text="'user:<username>' or 'ip:<address>'.")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # An address's failures are audited one event per minute (login_throttling.note_failed_login).
    audited_at = models.DateTimeField(
        null=True, blank=True, help_text="When this address's latest login.failed event was written."
    )
    unaudited_failures = models.PositiveIntegerField(
        default=0, help_text="Failed sign-ins from this address since that event, which no event records yet."
    )

    class Meta:
        db_table = "accounts_loginthrottle"

    def __str__(self) -> str:
        return self.subject
