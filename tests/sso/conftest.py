from tests.oidc_provider import oidc_provider, oidc_provider_process  # noqa: F401  (the fixtures)
