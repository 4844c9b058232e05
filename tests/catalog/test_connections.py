"""How a provider is reached: from environment variables only, live, simulated or not configured."""

import pytest

from governance.catalog.connections import ConnectionState, connection_for
from governance.catalog.models import Provider, ProviderKind


def runway() -> Provider:
    return Provider(
        slug="runway",
        name="Runway",
        kind=ProviderKind.RUNWAY,
        base_url="https://api.dev.runwayml.com",
        base_url_env_var="RUNWAYML_BASE_URL",
        api_key_env_var="RUNWAYML_API_SECRET",
    )


@pytest.fixture(autouse=True)
def no_runway_variables(monkeypatch):
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)


def test_with_its_key_set_a_provider_is_live_at_its_own_origin(monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_live")

    connection = connection_for(runway())

    assert (connection.state, connection.base_url, connection.credential) == (
        ConnectionState.LIVE,
        "https://api.dev.runwayml.com",
        "key_live",
    )


def test_the_base_url_variable_moves_it_to_a_proxy_or_regional_endpoint(monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_live")
    monkeypatch.setenv("RUNWAYML_BASE_URL", "https://runway-proxy.internal/")

    assert connection_for(runway()).base_url == "https://runway-proxy.internal"


def test_without_its_key_the_simulators_dialect_stands_in(settings):
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_BASE_URL = "http://127.0.0.1:8123/simulator/v1"

    connection = connection_for(runway())

    assert (connection.state, connection.base_url, connection.credential) == (
        ConnectionState.SIMULATED,
        "http://127.0.0.1:8123/simulator/runway",
        "",
    )


def test_without_its_key_and_without_the_simulator_it_is_not_configured_and_says_what_to_set(settings):
    settings.SIMULATOR_ENABLED = False

    connection = connection_for(runway())

    assert connection.state == ConnectionState.NOT_CONFIGURED
    assert connection.message == "Runway is not configured: set RUNWAYML_API_SECRET to call it."


def test_a_provider_with_no_public_origin_needs_its_base_url_too(monkeypatch):
    azure = Provider(
        slug="azure-openai",
        name="Azure OpenAI",
        kind=ProviderKind.AZURE_OPENAI,
        base_url="",
        base_url_env_var="AZURE_OPENAI_BASE_URL",
        api_key_env_var="AZURE_OPENAI_API_KEY",
    )
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.delenv("AZURE_OPENAI_BASE_URL", raising=False)

    refused = connection_for(azure)
    monkeypatch.setenv("AZURE_OPENAI_BASE_URL", "https://contoso.openai.azure.com")
    live = connection_for(azure)

    assert refused.state == ConnectionState.NOT_CONFIGURED
    assert "set AZURE_OPENAI_BASE_URL" in refused.message
    assert (live.state, live.base_url) == (ConnectionState.LIVE, "https://contoso.openai.azure.com")
