from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "governance.catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from governance.catalog import signals  # noqa: F401
