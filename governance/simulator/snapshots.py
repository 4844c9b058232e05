"""What the simulator serves: the snapshots of its catalog pack, read once at import.

The catalog pack `governance/catalog/packs/simulator.json` is the one source of truth
for names, aliases, allowed seconds and sizes; the catalog loads the same file, so the
gateway's catalog and its built-in upstream cannot disagree.
"""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

PACK_PATH = Path(__file__).resolve().parent.parent / "catalog" / "packs" / "simulator.json"


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
        )
        for entry in pack["snapshots"]
    }
    aliases = {alias: target for alias, target in pack.get("aliases", {}).items() if target in snapshots}
    return snapshots, aliases


SNAPSHOTS, ALIASES = read_pack()

# Every model name the simulator answers to, mapped to the snapshot that runs it:
# each snapshot's own name, plus "sora-2" -> "sora-2-2025-12-08" and "sora-2-pro" -> "sora-2-pro-2025-10-06".
MODEL_TABLE: dict[str, str] = {**{name: name for name in SNAPSHOTS}, **ALIASES}

DEFAULT_MODEL = "sora-2"
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
