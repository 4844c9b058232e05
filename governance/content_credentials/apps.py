from django.apps import AppConfig


class ContentCredentialsConfig(AppConfig):
    name = "governance.content_credentials"
    verbose_name = "Content credentials"
