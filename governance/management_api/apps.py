from django.apps import AppConfig


class ManagementApiConfig(AppConfig):
    name = "governance.management_api"
    verbose_name = "Management API"
