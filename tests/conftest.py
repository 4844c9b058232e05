import pytest

from governance.caching import forget_everything


@pytest.fixture(autouse=True)
def fresh_process_memory():
    """Rolled-back test data must not survive in the gateway's in-memory view."""
    forget_everything()
    yield
    forget_everything()
