from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "governance.policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        from governance.policies import signals  # noqa: F401
