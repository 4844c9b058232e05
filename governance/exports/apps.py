from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "governance.exports"
    verbose_name = "Exports and the auditor's pages"
