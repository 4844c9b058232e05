from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "governance.lifecycle"
    verbose_name = "Lifecycle"

    def ready(self) -> None:
        from governance.lifecycle import receivers  # noqa: F401
