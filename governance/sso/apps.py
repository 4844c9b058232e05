from django.apps import AppConfig
from django.conf import settings


class SsoConfig(AppConfig):
    """Single sign-on with an OpenID Connect provider, and the roles its groups grant (docs/single-sign-on.md)."""

    name = "governance.sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from governance.sso.mapping import parse_role_map

        parse_role_map(settings.OIDC_ROLE_MAP)  # a malformed OIDC_ROLE_MAP stops every process at start
