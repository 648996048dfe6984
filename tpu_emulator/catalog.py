"""What each emulated zone offers, and a deterministic seeded fleet."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tpu_emulator.rules import hosts_of

V2 = ("v2-8", "v2-32", "v2-128", "v2-256", "v2-512")
V3 = ("v3-8", "v3-32", "v3-64", "v3-128", "v3-256", "v3-512")
VERSIONS = ("1.15.5", "2.8.0", "2.9.1", "2.10.0", "2.11.0", "2.12.0", "pytorch-1.13", "pytorch-2.0")

# zone -> (accelerator types, tensorflow versions); shaped after the zones that offered TPU nodes.
ZONES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "us-central1-a": (V3, VERSIONS),
    "us-central1-b": (V2 + V3, VERSIONS),
    "us-central1-c": (V2, VERSIONS),
    "us-central1-f": (V2 + V3, VERSIONS),
    "us-east1-d": (("v2-8", "v3-8"), VERSIONS[:-1]),
    "europe-west4-a": (V2 + V3, VERSIONS),
    "asia-east1-c": (V2, VERSIONS[:-2]),
    "us-central2-b": (("v3-8", "v3-32"), VERSIONS),
}

PROJECT_NAMES = ("ml-prod", "ml-research", "ml-sandbox", "ml-infra", "ml-vision", "ml-speech")
TEAMS = ("vision", "nlp", "speech", "rl", "recsys", "infra")
PURPOSES = ("train", "eval", "serve", "sweep", "bench", "dev")
SYMPTOMS = (
    "LOW_MEMORY",
    "OUT_OF_MEMORY",
    "EXECUTE_TIMED_OUT",
    "MESH_BUILD_FAIL",
    "HBM_OUT_OF_MEMORY",
)
UNHEALTHY = ("TIMEOUT", "UNHEALTHY_TENSORFLOW", "UNHEALTHY_MAINTENANCE")


def project_names(count: int) -> list[str]:
    names = list(PROJECT_NAMES[:count])
    names += [f"ml-team-{i:02d}" for i in range(len(names), count)]
    return names


def cidr_blocks(start: str = "10.0.0.0") -> Iterator[str]:
    """Consecutive /29 blocks."""
    base = int(ipaddress.IPv4Address(start))
    i = 0
    while True:
        yield f"{ipaddress.IPv4Address(base + 8 * i)}/29"
        i += 1


@dataclass(frozen=True)
class SeedNode:
    project: str
    zone: str
    node_id: str
    accelerator_type: str
    tensorflow_version: str
    state: str
    health: str
    health_description: str
    preemptible: bool
    labels: dict[str, str]
    symptoms: tuple[tuple[str, str, str], ...]  # (type, worker, details)
    create_time: datetime


def seed_fleet(count: int, projects: int, now: datetime, seed: int = 7) -> list[SeedNode]:
    """A deterministic, realistic fleet: mostly READY and HEALTHY, some stopped, a few ailing."""
    rng = random.Random(seed)
    names = project_names(max(1, projects))
    zones = list(ZONES)
    fleet: list[SeedNode] = []
    for i in range(count):
        project = names[i % len(names)]
        zone = zones[(i // len(names)) % len(zones)]
        types, versions = ZONES[zone]
        # Single-host types dominate real fleets.
        accelerator_type = rng.choices(
            types, weights=[8 if t.endswith("-8") else 1 for t in types]
        )[0]
        team = rng.choice(TEAMS)
        roll = rng.random()
        state, health, description = "READY", "HEALTHY", ""
        symptoms: tuple[tuple[str, str, str], ...] = ()
        preemptible = rng.random() < 0.3
        if roll < 0.04:
            state, health = "STOPPED", ""
        elif roll < 0.055 and preemptible:
            state, health = "PREEMPTED", ""
        elif roll < 0.07:
            health = rng.choice(UNHEALTHY)
            description = f"{health.lower().replace('_', ' ')} reported by the node agent"
            symptoms = (
                (rng.choice(SYMPTOMS), str(rng.randrange(hosts_of(accelerator_type))), "seeded"),
            )
        fleet.append(
            SeedNode(
                project=project,
                zone=zone,
                node_id=f"{team}-{rng.choice(PURPOSES)}-{i:05d}",
                accelerator_type=accelerator_type,
                tensorflow_version=rng.choice(versions),
                state=state,
                health=health,
                health_description=description,
                preemptible=preemptible,
                labels={"team": team, "env": "prod" if project == "ml-prod" else "research"},
                symptoms=symptoms,
                create_time=now - timedelta(hours=rng.randrange(1, 24 * 90)),
            )
        )
    return fleet
