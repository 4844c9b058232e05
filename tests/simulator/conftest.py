import pytest
import time_machine

from governance.simulator import services
from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import NEW, OLD, START


@pytest.fixture(autouse=True)
def repeatable_faults():
    """Request-fault rolls are random in production; seeded here so every run rolls the same."""
    services.rolls.seed(1234)


@pytest.fixture
def clock():
    """Frozen time that a test moves on with `clock.shift(seconds)`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def reliable():
    """Both snapshots take 10 s and never fail, so a test decides what it observes."""
    for snapshot in (OLD, NEW):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=10.0, failure_rate=0.0)
