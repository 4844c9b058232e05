from django.apps import AppConfig


class DatabaseRolesConfig(AppConfig):
    """No models: it holds `migrate` as the tables' owner and the application role's grants (roles.py)."""

    name = "governance.infra.postgresql"
    label = "database_roles"
    verbose_name = "PostgreSQL roles"
