"""Small builders for test data; each returns saved rows with sensible defaults."""

import itertools
import struct
import zlib
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from governance.audit.services import Actor
from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations.budget_leases import month_spend
from governance.policies.models import PolicyRevision
from governance.policies.services import revise_policy
from governance.projects.models import Environment, Project, Role
from governance.projects.services import create_api_key, set_membership
from governance.simulator.rendering import render

OLD = "sora-2-2025-10-06"
NEW = "sora-2-2025-12-08"
SYSTEM = Actor.system("tests")

_counter = itertools.count(1)


def simulator_provider() -> Provider:
    provider = Provider.objects.filter(slug="simulator").first()
    if provider is None:
        load_pack(read_pack("simulator"), actor=SYSTEM)
        provider = Provider.objects.get(slug="simulator")
    return provider


def make_user(username: str | None = None, **extra):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password="pw-for-tests", **extra)


def make_project(slug: str | None = None, **extra) -> Project:
    slug = slug or f"project-{next(_counter)}"
    return Project.objects.create(slug=slug, name=extra.pop("name", slug.title()), **extra)


def make_member(project: Project, role: str = Role.DEVELOPER, user=None):
    user = user or make_user()
    set_membership(project=project, user=user, role=role, actor=SYSTEM)
    return user


def make_environment(project: Project | None = None, name: str = "development", **policy) -> Environment:
    """An environment with a first policy revision on the simulator provider."""
    project = project or make_project()
    environment = Environment.objects.create(project=project, name=name, protected=policy.pop("protected", False))
    policy.setdefault("default_model", OLD)
    policy.setdefault("allowed_snapshots", [OLD, NEW])
    revise_policy(environment=environment, provider=simulator_provider(), actor=SYSTEM, reason="test setup", **policy)
    return environment


def make_environment_on(pack: str, snapshot: str, name: str = "staging") -> Environment:
    """An environment whose policy runs only `snapshot`, on the provider of a pack loaded here (e.g. "byteplus")."""
    load_pack(read_pack(pack), actor=SYSTEM)
    environment = Environment.objects.create(project=make_project("studio"), name=name)
    revise_policy(
        environment=environment,
        provider=Provider.objects.get(slug=pack),
        actor=SYSTEM,
        reason="test setup",
        default_model=snapshot,
        allowed_snapshots=[snapshot],
    )
    return environment


def revise(environment: Environment, **changes) -> PolicyRevision:
    return revise_policy(
        environment=environment,
        provider=simulator_provider(),
        actor=SYSTEM,
        reason=changes.pop("reason", "test change"),
        through_plan=changes.pop("through_plan", None),
        **changes,
    )


def spent_this_month(environment: Environment) -> Decimal:
    """What the environment's generations cost this month, as the Project page shows it."""
    return month_spend([environment.pk], now=timezone.now()).get(environment.pk, Decimal(0))


def make_api_key(environment: Environment | None = None) -> str:
    environment = environment or make_environment()
    _, raw_key = create_api_key(environment=environment, name="test key", actor=SYSTEM)
    return raw_key


def make_character(environment: Environment, name: str = "Mona", upstream_id: str = "char_upstream"):
    """A character made in `environment` (its log row and the character), as the worker leaves it."""
    from governance.generations.models import Character, Generation

    key = environment.api_keys.first() or create_api_key(environment=environment, name="test key", actor=SYSTEM)[0]
    generation = Generation.objects.create(
        project=environment.project,
        environment=environment,
        api_key=key,
        operation="character",
        status="completed",
        resolved_snapshot=NEW,
        parameters={"name": name},
    )
    return Character.objects.create(
        project=environment.project,
        environment=environment,
        generation=generation,
        name=name,
        resolved_snapshot=NEW,
        upstream_id=upstream_id,
        api_key=key,
    )


# A real 2-second H.264 MP4, as the simulator renders one: uploaded as a source or character video.
SAMPLE_MP4 = render(snapshot=OLD, prompt="sample upload", seed=0, size="720x1280", seconds=2).video


def png_image(width: int = 720, height: int = 1280) -> bytes:
    """A real (black, greyscale) PNG of the given size, small once compressed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * ((width + 1) * height), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


__all__ = ["Decimal", "OLD", "NEW", "SYSTEM"]
