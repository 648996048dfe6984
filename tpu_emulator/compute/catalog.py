"""The TPU machine types of Compute Engine and where they are offered (facts and their sources
in docs/emulator.md). The emulator serves TPU machine types only."""

from __future__ import annotations

from dataclasses import dataclass

from tpu_emulator import catalog as tpu_catalog


@dataclass(frozen=True)
class MachineSpec:
    name: str
    family: str  # tpu7x, v6e, v5p, v5e
    chips: int  # TPU chips attached to one VM
    accelerator: str  # guestAcceleratorType, as GKE and gcloud name it
    cpus: int
    memory_gib: int

    @property
    def memory_mb(self) -> int:
        return self.memory_gib * 1024


_SPECS = (
    MachineSpec("tpu7x-standard-4t", "tpu7x", 4, "tpu7x", 224, 960),
    MachineSpec("ct6e-standard-1t", "v6e", 1, "tpu-v6e-slice", 44, 448),
    MachineSpec("ct6e-standard-4t", "v6e", 4, "tpu-v6e-slice", 180, 720),
    MachineSpec("ct6e-standard-8t", "v6e", 8, "tpu-v6e-slice", 180, 1440),
    MachineSpec("ct5p-hightpu-4t", "v5p", 4, "tpu-v5p-slice", 208, 448),
    MachineSpec("ct5lp-hightpu-1t", "v5e", 1, "tpu-v5-lite-podslice", 24, 48),
    MachineSpec("ct5lp-hightpu-4t", "v5e", 4, "tpu-v5-lite-podslice", 112, 192),
    MachineSpec("ct5lp-hightpu-8t", "v5e", 8, "tpu-v5-lite-podslice", 224, 384),
)
MACHINE_TYPES: dict[str, MachineSpec] = {s.name: s for s in _SPECS}

# zone -> TPU families its Compute Engine offers; shaped after Google's TPU regions and zones.
TPU_ZONES: dict[str, tuple[str, ...]] = {
    "us-central1-c": ("tpu7x",),
    "us-east5-a": ("v5p",),
    "us-east5-b": ("v6e", "v5p"),
    "us-east1-d": ("v6e",),
    "us-west4-a": ("v5e",),
    "europe-west4-a": ("v6e", "v5e"),
    "asia-northeast1-b": ("v6e",),
}
# Every zone the emulator knows (the TPU API's and Compute's), for zones.list.
ZONES: tuple[str, ...] = tuple(sorted(set(tpu_catalog.ALL_ZONES) | set(TPU_ZONES)))
REGIONS: tuple[str, ...] = tuple(sorted({z.rsplit("-", 1)[0] for z in ZONES}))
CPU_PLATFORMS = ("AMD Genoa", "Intel Sapphire Rapids", "Intel Emerald Rapids")


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def machine_types(zone: str) -> list[MachineSpec]:
    families = TPU_ZONES.get(zone, ())
    return sorted((s for s in _SPECS if s.family in families), key=lambda s: s.name)


def offered(zone: str, machine_type: str) -> bool:
    spec = MACHINE_TYPES.get(machine_type)
    return spec is not None and spec.family in TPU_ZONES.get(zone, ())
