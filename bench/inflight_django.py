"""The in-flight bench's steps inside Django (run by bench/inflight.py with the bench's environment).

`prepare`: an environment `inflight` of the demo's `studio` project on BytePlus ModelArk (Seedance 1.5 Pro),
no budget, and prints an API key for it. `submit N`: N generations through the service layer (parse,
policy, record, enqueue), as the API's create does, from a few threads; prints how many were accepted.
"""

import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from governance.audit.services import Actor  # noqa: E402
from governance.catalog.models import Provider  # noqa: E402
from governance.generations.services import submit  # noqa: E402
from governance.generations.submissions import parse_submission  # noqa: E402
from governance.policies.engine import Operation  # noqa: E402
from governance.policies.services import revise_policy  # noqa: E402
from governance.projects.models import Environment, Project  # noqa: E402
from governance.projects.selectors import key_holder  # noqa: E402

SNAPSHOT = "seedance-1-5-pro-251215"


def prepare() -> None:
    project, _ = Project.objects.get_or_create(slug="inflight", defaults={"name": "In-flight bench"})
    environment, _ = Environment.objects.get_or_create(
        project=project, name="development", defaults={"rate_limit_per_minute": 1_000_000}
    )
    # Signed as by default, unless the bench says otherwise (INFLIGHT_UNSIGNED=1: `bench/inflight.py --unsigned`).
    Environment.objects.filter(pk=environment.pk).update(sign_content=os.environ.get("INFLIGHT_UNSIGNED") != "1")
    revise_policy(
        environment=environment,
        provider=Provider.objects.get(slug="byteplus"),
        actor=Actor.system("inflight-bench"),
        reason="in-flight bench",
        default_model=SNAPSHOT,
        allowed_snapshots=[SNAPSHOT],
    )
    call_command("create_api_key", "inflight", "development", "--name", "inflight-bench")


def submit_many(key: str, jobs: int, prompts: int, threads: int = 4) -> None:
    """`jobs` submissions from `threads` threads; their prompts take `prompts` distinct takes in turn (0: one each)."""
    holder = key_holder(key)
    accepted = []

    def run(count: int) -> None:
        for index in range(count):
            take = index % prompts if prompts else f"{threading.get_ident()}-{index}"
            body = {"prompt": f"a lighthouse at dusk, take {take}", "model": SNAPSHOT, "seconds": "5"}
            body["size"] = "1280x720"
            submission, _ = parse_submission(Operation.CREATE, body=body)
            accepted.append(submit(holder=holder, submission=submission).status == "queued")
        connection.close()

    shares = [jobs // threads + (1 if index < jobs % threads else 0) for index in range(threads)]
    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(sum(accepted))


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare()
    else:
        submit_many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
