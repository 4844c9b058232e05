"""Generation rows for dashboard tests, written straight to the database like the gateway would leave them."""

import itertools

from governance.generations.models import Generation
from governance.projects.models import Environment
from tests.factories import NEW, make_api_key, simulator_provider

_counter = itertools.count(1)


def make_generation(environment: Environment, **fields) -> Generation:
    if not environment.api_keys.exists():
        make_api_key(environment)
    fields.setdefault("status", Generation.Status.COMPLETED)
    fields.setdefault("requested_model", NEW)
    fields.setdefault("resolved_snapshot", NEW)
    fields.setdefault("provider", simulator_provider())
    fields.setdefault("prompt", f"prompt number {next(_counter)}")
    return Generation.objects.create(
        project=environment.project, environment=environment, api_key=environment.api_keys.first(), **fields
    )
