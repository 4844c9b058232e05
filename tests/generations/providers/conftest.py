"""A project environment on one real provider's pack, served by that provider's simulated dialect in-process."""

import pytest

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator import services as simulator
from tests.factories import SYSTEM, make_api_key, make_project
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport


@pytest.fixture
def simulated_dialects():
    """Every provider call reaches the simulator in-process, over the same httpx client code as a real call."""
    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        yield


def api_on(pack: str, snapshot: str) -> Api:
    """A key to an environment whose policy pins `snapshot` of the provider `pack` describes."""
    load_pack(read_pack(pack), actor=SYSTEM)
    provider = Provider.objects.get(slug=read_pack(pack)["provider"]["slug"])
    environment = Environment.objects.create(project=make_project(), name="development")
    revise_policy(
        environment=environment,
        provider=provider,
        actor=SYSTEM,
        reason="test setup",
        default_model=snapshot,
        allowed_snapshots=[snapshot],
    )
    return Api(make_api_key(environment))
