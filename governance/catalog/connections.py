"""How the gateway reaches a provider right now: live, simulated, or not configured.

Credentials and base-URL overrides come only from environment variables, never from the
database. A provider whose credential variable is set is called live, at its base URL or the
URL its base-URL variable names. Without credentials, and with the built-in simulator served
(`SIMULATOR_ENABLED`, as under `make run`), the simulator's dialect of that provider answers
instead; with the simulator off (production), the provider is not configured and its
requests are refused with a clear error.
"""

import os
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

from governance.catalog.models import SIMULATOR_BASE_URL, Provider, ProviderKind


class ConnectionState(StrEnum):
    LIVE = "live"
    SIMULATED = "simulated"
    NOT_CONFIGURED = "not_configured"


# Kinds whose OpenAI-shaped base URL already carries the version path (`…/v1`); every other
# kind's base URL is the provider's origin and its adapter adds the version path itself.
OPENAI_SHAPED_KINDS = {ProviderKind.OPENAI, ProviderKind.LUMEN}
# Variables a kind needs beside its credential, named when it is not configured (Vertex's project and location).
ALSO_NEEDED = {ProviderKind.VERTEX: ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")}


@dataclass(frozen=True)
class Connection:
    state: ConnectionState
    base_url: str = ""
    credential: str = ""  # the key (or the credentials file's path); empty when simulated
    message: str = ""

    @property
    def simulated(self) -> bool:
        return self.state == ConnectionState.SIMULATED

    @property
    def usable(self) -> bool:
        return self.state != ConnectionState.NOT_CONFIGURED


def simulator_root() -> str:
    """Where the built-in simulator is served: `http://127.0.0.1:<PORT>/simulator`."""
    return settings.SIMULATOR_BASE_URL.rstrip("/").removesuffix("/v1")


def simulated_base_url(provider: Provider) -> str:
    """The simulator's dialect of the provider's protocol, spelled as the provider's base URL."""
    if provider.base_url.startswith(SIMULATOR_BASE_URL + "/"):
        family_path = provider.base_url.removeprefix(SIMULATOR_BASE_URL + "/").strip("/")
        return f"{simulator_root()}/{family_path}/v1"
    if provider.kind in OPENAI_SHAPED_KINDS:
        return settings.SIMULATOR_BASE_URL.rstrip("/")
    return f"{simulator_root()}/{provider.kind}"


def connection_for(provider: Provider) -> Connection:
    """The provider's connection as the environment sets it now (read on every call: nothing is cached)."""
    simulator_only = provider.base_url == SIMULATOR_BASE_URL or provider.base_url.startswith(SIMULATOR_BASE_URL + "/")
    credential = os.environ.get(provider.api_key_env_var, "") if provider.api_key_env_var else ""
    if credential and not simulator_only:
        base_url = os.environ.get(provider.base_url_env_var, "") if provider.base_url_env_var else ""
        base_url = (base_url or provider.base_url).rstrip("/")
        if not base_url:  # a provider with no public origin (Azure: each resource has its own)
            message = f"{provider.name} is not configured: set {provider.base_url_env_var} to its base URL."
            return Connection(ConnectionState.NOT_CONFIGURED, message=message)
        return Connection(ConnectionState.LIVE, base_url, credential)
    if not provider.api_key_env_var and not simulator_only:
        # An OpenAI-compatible upstream that takes no key (a local LiteLLM, say) is live as configured.
        base_url = os.environ.get(provider.base_url_env_var, "") if provider.base_url_env_var else ""
        return Connection(ConnectionState.LIVE, (base_url or provider.base_url).rstrip("/"))
    if settings.SIMULATOR_ENABLED:
        # A provider served only by the simulator still sends a key it is given, as a client would.
        return Connection(ConnectionState.SIMULATED, simulated_base_url(provider), credential if simulator_only else "")
    if simulator_only:
        message = f"{provider.name} is served only by the built-in simulator, which is off here (SIMULATOR_ENABLED)."
    else:
        needed = " and ".join((provider.api_key_env_var, *ALSO_NEEDED.get(provider.kind, ())))
        message = f"{provider.name} is not configured: set {needed} to call it."
    return Connection(ConnectionState.NOT_CONFIGURED, message=message)
