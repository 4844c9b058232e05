"""What the two OpenAPI fuzz runs share (the gateway's and the management API's).

A plain run is a fixed, derandomized set of examples; `FUZZ_EXAMPLES=500` explores further at random.
"""

import os

from hypothesis import HealthCheck, settings

EXPLORING = bool(os.environ.get("FUZZ_EXAMPLES"))


def examples_per_operation(default: int) -> int:
    return int(os.environ.get("FUZZ_EXAMPLES", default))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not EXPLORING,
        database=None,
    )
