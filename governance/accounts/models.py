from django.db import models


class LoginThrottle(models.Model):
    """Failed sign-ins for one username or one address in the current window, and its lockout if any."""

    subject = models.CharField(max_length=200, unique=True, help_text="'user:<username>' or 'ip:<address>'.")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_loginthrottle"

    def __str__(self) -> str:
        return self.subject
