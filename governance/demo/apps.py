from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: `seed_demo` and the login page's hint. It sits above every app and nothing imports it."""

    name = "governance.demo"
    verbose_name = "Demo data"
