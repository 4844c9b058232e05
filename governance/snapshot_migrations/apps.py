from django.apps import AppConfig


class SnapshotMigrationsConfig(AppConfig):
    name = "governance.snapshot_migrations"
    verbose_name = "Snapshot migrations"

    def ready(self) -> None:
        from governance.snapshot_migrations import signals  # noqa: F401
