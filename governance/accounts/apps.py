from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed


class AccountsConfig(AppConfig):
    """Signing in: the login forms and their throttling. Who may do what in a project is `projects.permissions`."""

    name = "governance.accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        from governance.accounts import signals  # noqa: F401

        # Failed sign-ins are audited by accounts.signals, one event per address and minute; the audit
        # app's own receiver wrote one event per attempt, so a flood of guesses flooded the chain.
        user_login_failed.disconnect(dispatch_uid="audit-login-failed")
