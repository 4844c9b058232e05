from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "governance.simulator"
    verbose_name = "Simulator"
