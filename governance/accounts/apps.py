from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in: the login forms and their throttling. Who may do what in a project is `projects.permissions`."""

    name = "governance.accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        from governance.accounts import signals  # noqa: F401  (failed sign-ins, audited per address and minute)
