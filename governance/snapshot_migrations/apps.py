from django.apps import AppConfig


class SnapshotMigrationsConfig(AppConfig):
    name = "governance.snapshot_migrations"
    verbose_name = "Snapshot migrations"
