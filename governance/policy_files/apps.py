from django.apps import AppConfig


class PolicyFilesConfig(AppConfig):
    name = "governance.policy_files"
    verbose_name = "Policy files"
