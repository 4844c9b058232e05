import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from governance.infra.request_ids import RequestIdFilter
from tests.factories import OLD, make_api_key, make_environment
from tests.generations.conftest import Api


@pytest.fixture
def api(db) -> Api:
    """A key of an environment pinned to the older snapshot, alias requests refused."""
    production = make_environment(default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse")
    return Api(make_api_key(production))


def metric_value(client, name: str, **labels) -> float:
    """One sample from /metrics, summed over every process on this host (0 when absent)."""
    body = client.get("/metrics").content.decode()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0


class Lines(logging.Handler):
    """Log records as the console handler sees them: with their request id."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def with_message(self, text: str) -> list[logging.LogRecord]:
        return [record for record in self.records if text in record.getMessage()]


@pytest.fixture
def log_lines():
    handler = Lines()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous_level)
