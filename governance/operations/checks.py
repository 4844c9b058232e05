"""`check --deploy` also says what our own production settings must be."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def production_settings(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    if settings.SIMULATOR_ENABLED:
        warnings.append(
            Warning(
                "SIMULATOR_ENABLED is on: an unauthenticated fake provider is served at /simulator/v1/.",
                hint="Unset SIMULATOR_ENABLED (it is off by default when DEBUG is off).",
                id="governance.W001",
            )
        )
    if not settings.METRICS_TOKEN:
        warnings.append(
            Warning(
                "METRICS_TOKEN is not set: anyone who reaches /metrics can read it.",
                hint="Set METRICS_TOKEN and give it to Prometheus as a bearer token.",
                id="governance.W002",
            )
        )
    return warnings
