from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "governance.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from governance.operations import checks  # noqa: F401  (registers the deploy checks)
