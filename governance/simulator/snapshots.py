"""What the simulator serves: the snapshots of its catalog packs, read once at import.

Each API the simulator speaks reads one catalog pack: `simulator.json` (Sora, at
/simulator/v1), `simulator-lumen.json` (the made-up Lumen family, at /simulator/lumen/v1),
and each real provider's own pack for its dialect (`gemini.json` at /simulator/gemini/…).
The packs are the one source of truth for names, aliases, seconds, sizes and features; the
catalog loads the same files, so the gateway's catalog and its built-in upstream cannot disagree.
"""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

PACKS_DIR = Path(__file__).resolve().parent.parent / "catalog" / "packs"
PACK_PATH = PACKS_DIR / "simulator.json"
# Each API the simulator serves (the provider kind it imitates): its catalog pack, and for the
# OpenAI-shaped APIs the model a request without one gets. A provider dialect adds its kind here.
API_OPENAI, API_LUMEN = "openai", "lumen"
API_PACKS = {
    API_OPENAI: PACK_PATH,
    API_LUMEN: PACKS_DIR / "simulator-lumen.json",
    "vertex": PACKS_DIR / "vertex.json",
    "azure-openai": PACKS_DIR / "azure-openai.json",
    "xai": PACKS_DIR / "xai.json",
    "gemini": PACKS_DIR / "gemini.json",
    "runway": PACKS_DIR / "runway.json",
    "byteplus": PACKS_DIR / "byteplus.json",
}
API_DEFAULT_MODELS = {API_OPENAI: "sora-2", API_LUMEN: "lumen-1", "azure-openai": "sora-2", "xai": "grok-imagine-video"}


@dataclass(frozen=True)
class Pace:
    """How fast and how reliably a snapshot generates when no SimulatorProfile says otherwise."""

    latency_per_video_second: float
    failure_rate: float


# The seed guide measured about 45 s per 10 s of video for 2025-10-06 and 40 s for
# 2025-12-08, with batch stability of 99.2 % and 99.5 %. Latencies are scaled down
# (0.6 s and 0.5 s per second of video) so a 4 s demo clip finishes in 2-3 s.
DEFAULT_PACES: dict[str, Pace] = {
    "sora-2-2025-10-06": Pace(latency_per_video_second=0.6, failure_rate=0.008),
    "sora-2-2025-12-08": Pace(latency_per_video_second=0.5, failure_rate=0.005),
    "sora-2-pro-2025-10-06": Pace(latency_per_video_second=0.9, failure_rate=0.008),
    "lumen-1-2026-01-15": Pace(latency_per_video_second=0.4, failure_rate=0.01),
    "lumen-1-2026-06-01": Pace(latency_per_video_second=0.3, failure_rate=0.005),
}
FALLBACK_PACE = Pace(latency_per_video_second=0.5, failure_rate=0.005)


@dataclass(frozen=True)
class SimulatedSnapshot:
    name: str
    released_on: dt.date | None
    shutdown_on: dt.date | None
    seconds: tuple[int, ...]
    sizes: tuple[str, ...]
    pace: Pace
    features: frozenset[str] = frozenset()
    extension_seconds: tuple[int, ...] = ()


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def read_pack(path: Path = PACK_PATH) -> tuple[dict[str, SimulatedSnapshot], dict[str, str]]:
    pack = json.loads(path.read_text())
    snapshots = {
        entry["name"]: SimulatedSnapshot(
            name=entry["name"],
            released_on=_date(entry.get("released_on")),
            shutdown_on=_date(entry.get("shutdown_on")),
            seconds=tuple(int(seconds) for seconds in entry["seconds"]),
            sizes=tuple(entry["sizes"]),
            pace=DEFAULT_PACES.get(entry["name"], FALLBACK_PACE),
            features=frozenset(entry.get("features", [])),
            extension_seconds=tuple(int(seconds) for seconds in entry.get("extension_seconds", [])),
        )
        for entry in pack["snapshots"]
    }
    aliases = {alias: target for alias, target in pack.get("aliases", {}).items() if target in snapshots}
    return snapshots, aliases


SNAPSHOTS, ALIASES = read_pack()

# Every model name the Sora API answers to, mapped to the snapshot that runs it:
# each snapshot's own name, plus "sora-2" -> "sora-2-2025-12-08" and "sora-2-pro" -> "sora-2-pro-2025-10-06".
MODEL_TABLE: dict[str, str] = {**{name: name for name in SNAPSHOTS}, **ALIASES}

# For each API: the snapshots it serves, and every model name it answers to mapped to its snapshot.
API_SNAPSHOTS: dict[str, dict[str, SimulatedSnapshot]] = {}
MODEL_TABLES: dict[str, dict[str, str]] = {}
for _api, _path in API_PACKS.items():
    _snapshots, _aliases = read_pack(_path)
    API_SNAPSHOTS[_api] = _snapshots
    MODEL_TABLES[_api] = {**{name: name for name in _snapshots}, **_aliases}
# A name two APIs share (Azure served OpenAI's sora-2 versions under the same names) keeps the first API's entry.
ALL_SNAPSHOTS: dict[str, SimulatedSnapshot] = {}
for _snapshots in API_SNAPSHOTS.values():
    for _name, _snapshot in _snapshots.items():
        ALL_SNAPSHOTS.setdefault(_name, _snapshot)

DEFAULT_MODEL = "sora-2"
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
