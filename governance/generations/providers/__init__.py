"""One adapter per provider kind, in one module each; `adapter_for()` is the only way in.

Add a provider kind here, to `catalog.models.ProviderKind`, and as a dialect of the
built-in simulator (`simulator/dialects/`); nothing else in the product changes.
"""

from django.utils.module_loading import import_string

from governance.catalog.connections import connection_for
from governance.catalog.models import Provider, ProviderKind
from governance.generations.providers.base import ProviderAdapter
from governance.generations.upstream import UpstreamError

ADAPTERS: dict[str, str] = {
    ProviderKind.OPENAI: "governance.generations.providers.openai.OpenAIVideosAdapter",
    ProviderKind.LUMEN: "governance.generations.providers.openai.LumenAdapter",
    ProviderKind.VERTEX: "governance.generations.providers.vertex.VertexVeoAdapter",
    ProviderKind.AZURE_OPENAI: "governance.generations.providers.azure_openai.AzureOpenAIAdapter",
    ProviderKind.XAI: "governance.generations.providers.xai.XAIVideosAdapter",
    ProviderKind.GEMINI: "governance.generations.providers.gemini.GeminiAdapter",
    ProviderKind.RUNWAY: "governance.generations.providers.runway.RunwayAdapter",
    ProviderKind.BYTEPLUS: "governance.generations.providers.byteplus.BytePlusAdapter",
}


def adapter_for(provider: Provider) -> ProviderAdapter:
    """The provider's adapter over its connection now; UpstreamError (final) when it is not configured."""
    connection = connection_for(provider)
    if not connection.usable:
        raise UpstreamError(connection.message, status=503, code="provider_not_configured", retryable=False)
    return import_string(ADAPTERS[provider.kind])(provider, connection)
