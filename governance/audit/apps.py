from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "governance.audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from governance.audit import signals  # noqa: F401
