from django.apps import AppConfig


class InfraConfig(AppConfig):
    """Process plumbing. Its one table, the governance state version, backs the state token of `caching`."""

    name = "governance.infra"
    verbose_name = "Process plumbing"
