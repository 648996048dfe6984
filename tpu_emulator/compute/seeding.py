"""The seeded Compute Engine TPU fleet: `fleet=N, projects=K` gives the same world each time.

- N TPU VMs (one per seeded TPU API node) spread over the same K projects as the nodes, on
  the TPU machine types of the zones that offer them: a quarter SPOT (the first one preempted,
  TERMINATED with its `compute.instances.preempted` operation), a few stopped (TERMINATED by
  their owner), one RUNNING with upcoming maintenance.
- In the first project, the capacity a platform team runs: a TPU7x slice as a MIG of 16
  tpu7x-standard-4t hosts placed by a 4x4x4 workload policy on a reservation (one block, two
  sub-blocks of 16 hosts; the spare one degraded, with maintenance pending); a future
  reservation; a flex-start v6e MIG with one granted resize request (2 VMs, 4 h) and one
  queued (ACCEPTED, held until an admin inject); a GKE node pool's MIG of 4 v6e VMs, labelled
  as GKE labels them.
`clean` seeds everything RUNNING and healthy: nothing preempted, degraded or in maintenance.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tpu_emulator import catalog as tpu_catalog
from tpu_emulator.compute import catalog, rules
from tpu_emulator.compute.groups import GroupsMixin
from tpu_emulator.compute.model import (
    Block,
    FutureReservation,
    Mig,
    Reservation,
    ResourcePolicy,
    SubBlock,
)
from tpu_emulator.compute.wire import link

Json = dict[str, str]
SLICE_ZONE, FLEX_ZONE = "us-central1-c", "us-east5-b"
RESERVATION = "ironwood-reservation"
_ZONES = tuple(catalog.TPU_ZONES)
GKE_LABELS = {
    "goog-gke-node": "",
    "goog-k8s-cluster-name": "research",
    "goog-k8s-cluster-location": "us-east5",
    "goog-k8s-node-pool-name": "tpu-v6e-pool",
}


def maintenance_window(now: datetime, days: int = 2) -> dict[str, object]:
    start = now.replace(microsecond=0) + timedelta(days=days)
    return {
        "type": "SCHEDULED",
        "maintenanceStatus": "PENDING",
        "canReschedule": True,
        "windowStartTime": start.isoformat().replace("+00:00", "Z"),
        "windowEndTime": (start + timedelta(hours=4)).isoformat().replace("+00:00", "Z"),
        "latestWindowStartTime": (start + timedelta(days=3)).isoformat().replace("+00:00", "Z"),
        "maintenanceReasons": ["PLANNED_UPDATE"],
    }


class SeedingMixin(GroupsMixin):
    def seed(self, count: int, projects: list[str], seed: int, clean: bool) -> None:
        self.projects = list(projects) if count > 0 else []
        if count <= 0:
            return
        now = self.clock()
        self._seed_showcase(projects[0], now, clean)
        rng = random.Random(seed + 2)  # Compute's own draws: the TPU API's stay as they were
        firsts = set() if clean else {"preemption", "maintenance"}
        for i in range(count):
            self._seed_vm(i, projects[i % len(projects)], rng, now, firsts, clean)

    def _seed_vm(
        self,
        i: int,
        project: str,
        rng: random.Random,
        now: datetime,
        firsts: set[str],
        clean: bool,
    ) -> None:
        zone = _ZONES[(i // 3) % len(_ZONES)]
        types = [s.name for s in catalog.machine_types(zone)]
        machine = rng.choices(types, weights=[4 if "-4t" in t else 1 for t in types])[0]
        spot, roll = rng.random() < 0.25, rng.random()
        team = rng.choice(tpu_catalog.TEAMS)
        scheduling = rules.scheduling({"provisioningModel": "SPOT"} if spot else {})
        labels = {"team": team, "env": "prod" if project == "ml-prod" else "research"}
        name = f"{team}-{rng.choice(tpu_catalog.PURPOSES)}-vm-{i:05d}"
        created = now - timedelta(hours=rng.randrange(1, 24 * 60))
        inst = self.new_instance(
            project, zone, name, machine, {}, scheduling, labels, "RUNNING", created
        )
        inst.last_start = created + timedelta(minutes=2)
        if spot and "preemption" in firsts:
            firsts.discard("preemption")
            self.preempt(inst)
        elif roll < 0.04 and not clean:
            self.stop_now(inst, now - timedelta(hours=1))
        elif not spot and "maintenance" in firsts:
            firsts.discard("maintenance")
            inst.maintenance = maintenance_window(now)

    def _seed_showcase(self, project: str, now: datetime, clean: bool) -> None:
        region = catalog.region_of(SLICE_ZONE)
        policy = ResourcePolicy(
            project, region, "ironwood-4x4x4", self.new_id(), now - timedelta(days=30),
            {"type": "HIGH_THROUGHPUT", "acceleratorTopology": "4x4x4"},
            "Workload policy for 4x4x4 TPU7x slices",
        )  # fmt: skip
        self.policies[(project, region, policy.name)] = policy
        self._seed_reservation(project, now, clean)
        affinity = {
            "consumeReservationType": "SPECIFIC_RESERVATION",
            "key": "compute.googleapis.com/reservation-name",
            "values": [RESERVATION],
        }
        slice_mig = self._seed_mig(
            project, SLICE_ZONE, "ironwood-slice-a", "tpu7x-standard-4t",
            {"provisioningModel": "RESERVATION_BOUND"}, {"team": "llm", "env": "prod"},
            {"reservationAffinity": affinity}, now,
        )  # fmt: skip
        slice_mig.policy, slice_mig.topology = policy.name, "4x4x4"
        slice_mig.spec["resourcePolicies"] = [
            link(f"projects/{project}/regions/{region}/resourcePolicies/{policy.name}")
        ]
        self._fill(slice_mig, 16, now)
        self.futures[(project, SLICE_ZONE, "ironwood-expansion")] = FutureReservation(
            project, SLICE_ZONE, "ironwood-expansion", self.new_id(), now - timedelta(days=3),
            "tpu7x-standard-4t", 64, now + timedelta(days=14), now + timedelta(days=104),
        )  # fmt: skip
        self._seed_flex(project, now)
        gke = self._seed_mig(
            project, FLEX_ZONE, "gke-research-tpu-v6e-pool-5f2c9a1e-grp", "ct6e-standard-4t",
            {}, dict(GKE_LABELS), {}, now, base="gke-research-tpu-v6e-pool-5f2c9a1e",
        )  # fmt: skip
        self._fill(gke, 4, now)

    def _seed_reservation(self, project: str, now: datetime, clean: bool) -> None:
        created = now - timedelta(days=30)
        res = Reservation(
            project, SLICE_ZONE, RESERVATION, self.new_id(), created, "tpu7x-standard-4t"
        )
        block = Block(f"{RESERVATION}-block-0001", self.new_id(), created)
        for j in (1, 2):
            sub = SubBlock(f"{block.name}-subblock-{j:04d}", self.new_id(), created, count=16)
            if j == 2 and not clean:
                sub.degraded = 1
                sub.maintenance = maintenance_window(now, days=5)
            block.sub_blocks[sub.name] = sub
        res.blocks[block.name] = block
        self.reservations[(project, SLICE_ZONE, RESERVATION)] = res

    def _seed_mig(
        self, project: str, zone: str, name: str, machine: str, scheduling: dict[str, object],
        labels: dict[str, str], spec: dict[str, object], now: datetime, base: str = "",
    ) -> Mig:  # fmt: skip
        mig = Mig(
            project=project, zone=zone, name=name, uid=self.new_id(),
            created=now - timedelta(days=7), base_name=base or name, template=f"{name}-template",
            machine_type=machine, scheduling=rules.scheduling(scheduling), labels=labels,
            spec=dict(spec),
        )  # fmt: skip
        self.migs[(project, zone, name)] = mig
        return mig

    def _fill(self, mig: Mig, count: int, now: datetime) -> None:
        mig.target_size += count
        for i in range(count):
            inst = self.add_member(mig, self.member_name(mig, "seed", i), "RUNNING")
            self.start_running(inst, mig.created + timedelta(minutes=5))
            inst.created, inst.fixed = mig.created, None

    def _seed_flex(self, project: str, now: datetime) -> None:
        flex: dict[str, object] = {
            "provisioningModel": "FLEX_START",
            "maxRunDuration": {"seconds": "14400"},
        }
        mig = self._seed_mig(
            project, FLEX_ZONE, "flex-v6e", "ct6e-standard-4t", flex,
            {"team": "vision", "env": "research"}, {}, now,
        )  # fmt: skip
        granted = self._new_resize_request(
            mig, "flex-v6e-granted", {"resizeBy": 2, "requestedRunDuration": {"seconds": "14400"}}
        )
        granted.created = now - timedelta(hours=1)
        mig.requests[granted.name] = granted
        self.provision(granted, now - timedelta(minutes=30), "RUNNING")
        queued = self._new_resize_request(
            mig, "flex-v6e-queued", {"resizeBy": 4, "requestedRunDuration": {"seconds": "7200"}}
        )
        queued.created, queued.held = now - timedelta(hours=2), True
        mig.requests[queued.name] = queued
