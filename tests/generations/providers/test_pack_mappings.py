"""Every size and length a provider's pack offers, its adapter can put into a request.

The packs list what the policy engine accepts; the adapters hold their own tables of the provider's
native terms. A size the pack offers and the adapter cannot map would be accepted, queued and then
fail in the worker, so this holds them together. Nothing is sent: only the request is built.
"""

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from governance.catalog.connections import Connection, ConnectionState
from governance.catalog.models import Provider, Snapshot
from governance.catalog.services import load_pack, read_pack
from governance.generations.models import Generation
from governance.generations.providers import ADAPTERS
from governance.generations.upstream import UpstreamError
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

# Each kind's request-building step: what start() sends, built without sending it.
REQUEST_BUILDERS = {
    "gemini": "create_body",
    "vertex": "video_config",
    "runway": "create_fields",
    "byteplus": "create_fields",
    "xai": "create_fields",
    "azure-openai": "create_fields",
}


def adapter_for_pack(pack: str):
    load_pack(read_pack(pack), actor=SYSTEM)
    provider = Provider.objects.get(slug=read_pack(pack)["provider"]["slug"])
    connection = Connection(ConnectionState.SIMULATED, provider.base_url, "")
    return provider, import_string(ADAPTERS[provider.kind])(provider, connection)


def live_snapshots(provider: Provider) -> list[Snapshot]:
    today = timezone.localdate()
    return [s for s in provider.snapshots.filter(reviewed=True) if s.shutdown_on is None or s.shutdown_on > today]


@pytest.mark.parametrize("pack", REQUEST_BUILDERS)
def test_every_size_and_length_a_pack_offers_maps_to_a_request(pack):
    provider, adapter = adapter_for_pack(pack)
    build = getattr(adapter, REQUEST_BUILDERS[pack])
    snapshots = live_snapshots(provider)
    if not snapshots:
        pytest.skip(f"every snapshot in the {pack} pack is shut down")
    unmapped = []

    for snapshot in snapshots:
        for size in snapshot.sizes:
            for seconds in snapshot.seconds:
                generation = Generation(
                    provider=provider,
                    resolved_snapshot=snapshot.name,
                    prompt="A lighthouse",
                    seconds=seconds,
                    size=size,
                )
                try:
                    build(generation)
                except Exception as error:  # noqa: BLE001 - every failure is a gap between pack and adapter
                    unmapped.append(f"{snapshot.name} {size} {seconds}s: {error!r}")

    assert not unmapped


@pytest.mark.parametrize(
    ("pack", "snapshot", "size"),
    [
        ("xai", "grok-imagine-video", "1x1"),
        ("gemini", "gemini-omni-1.2-flash", "1x1"),
        ("gemini", "gemini-omni-1.2-flash", "big"),
    ],
)
def test_a_size_the_adapter_cannot_map_is_a_bad_request_not_a_provider_fault(pack, snapshot, size):
    provider, adapter = adapter_for_pack(pack)
    generation = Generation(provider=provider, resolved_snapshot=snapshot, seconds=4, size=size)

    with pytest.raises(UpstreamError) as raised:
        getattr(adapter, REQUEST_BUILDERS[pack])(generation)

    assert (raised.value.status, raised.value.code, raised.value.retryable) == (400, "invalid_value", False)
