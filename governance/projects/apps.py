from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "governance.projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from governance.projects import signals  # noqa: F401
