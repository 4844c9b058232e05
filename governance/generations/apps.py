from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "governance.generations"
    verbose_name = "Generations"
