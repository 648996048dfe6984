"""The seeded fleet: `fleet=N, projects=K` gives the same world for the same arguments.

Layout (why: the bot and today's tests speak v1alpha1 to the first three projects and count their
nodes, so those stay exactly as they were):
- nodes of the first three projects (ml-prod, ml-research, ml-sandbox) are v1alpha1 TPU Nodes;
- nodes of every later project are v2 TPU VMs on v4/v5e/v5p/v6e: about a third behind an ACTIVE
  queued resource of the same id, a quarter spot (a few PREEMPTED, their request SUSPENDED),
  one with upcoming maintenance;
- every project also holds one node-less queued resource (see QUEUES): WAITING_FOR_RESOURCES,
  SUSPENDED or FAILED. Nodes they would make do not exist, so v1alpha1 counts are unchanged.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tpu_emulator import catalog
from tpu_emulator.errors import Json, rpc_status, stockout_message
from tpu_emulator.model import Node, QueuedResource
from tpu_emulator.queued import QueuedMixin
from tpu_emulator.rules import is_pod, rfc3339

V1_PROJECTS = 3
# Node-less queued resources, one per project in turn: (id, zone, type, runtime, state).
QUEUES = (
    ("pretrain-v5p-128", "us-east5-a", "v5p-128", "v2-alpha-tpuv5", "WAITING_FOR_RESOURCES"),
    ("sweep-v6e-8-spot", "us-east5-b", "v6e-8", "v2-alpha-tpuv6e", "SUSPENDED"),
    ("eval-v5e-64", "us-west4-a", "v5litepod-64", "v2-alpha-tpuv5-lite", "WAITING_FOR_RESOURCES"),
    ("finetune-v4-32", "us-central2-b", "v4-32", "tpu-vm-v4-base", "FAILED"),
)
_V2_ZONES = ("us-west4-a", "us-east5-a", "us-east5-b", "europe-west4-b", "us-central2-b")


def _pick_type(rng: random.Random, zone: str) -> str:
    types = catalog.v2_types(zone)
    small = [t for t in types if int(t.rsplit("-", 1)[1]) <= 8]
    return rng.choice(small) if rng.random() < 0.8 else rng.choice(types)


class SeedingMixin(QueuedMixin):
    def _seed(self, count: int, projects: int, seed: int, clean: bool) -> list[str]:
        """Seed the fleet; the project ids."""
        now = self.clock()
        names = catalog.project_names(max(1, projects))
        rng = random.Random(seed + 1)  # v2's own draws: the v1alpha1 ones stay as they were
        firsts = {"maintenance", "preemption"}  # seeded once each, on the first fitting VM
        for s in catalog.seed_fleet(count, projects, now, seed):
            if clean:
                s = catalog.SeedNode(
                    **{**s.__dict__, "state": "READY", "health": "HEALTHY",
                       "health_description": "", "symptoms": ()}
                )  # fmt: skip
            if s.project in names[:V1_PROJECTS]:
                self._seed_v1(s)
            else:
                self._seed_v2(s, rng, clean, firsts)
        if count > 0:
            for j, project in enumerate(names):
                self._seed_queue(project, j, now)
        return names

    def _seed_v1(self, s: catalog.SeedNode) -> None:
        name = f"projects/{s.project}/locations/{s.zone}/nodes/{s.node_id}"
        body: Json = {
            "acceleratorType": s.accelerator_type,
            "tensorflowVersion": s.tensorflow_version,
            "description": f"{s.labels['team']} workload",
            "labels": dict(s.labels),
            "schedulingConfig": {"preemptible": s.preemptible},
        }
        node = self.v1_node(name, body, s.state, s.create_time)
        self._ailing(node, s)
        self._insert(node)

    @staticmethod
    def _ailing(node: Node, s: catalog.SeedNode) -> None:
        node.health = s.health
        node.health_description = s.health_description
        node.symptoms = [
            {
                "symptomType": kind,
                "workerId": worker,
                "details": details,
                "createTime": rfc3339(s.create_time),
            }
            for kind, worker, details in s.symptoms
        ]

    def _seed_v2(
        self, s: catalog.SeedNode, rng: random.Random, clean: bool, firsts: set[str]
    ) -> None:
        zone = rng.choice(_V2_ZONES)
        accelerator_type = _pick_type(rng, zone)
        generation = catalog.GENERATIONS[catalog.generation(accelerator_type)]
        queued, spot = rng.random() < 0.35, rng.random() < 0.25
        parent = f"projects/{s.project}/locations/{zone}"
        body: Json = {
            "acceleratorType": accelerator_type,
            "runtimeVersion": generation[2][1],
            "description": f"{s.labels['team']} workload",
            "labels": dict(s.labels),
        }
        if spot:
            body["schedulingConfig"] = {"spot": True}
        if rng.random() < 0.3:
            body["networkConfig"] = {"enableExternalIps": True}
        state = s.state
        plain = not (queued or spot or is_pod(accelerator_type))
        if state == "PREEMPTED" or (state == "STOPPED" and not plain):
            state = "READY"  # only a plain single-host on-demand VM is seeded stopped
        if spot and not clean and (rng.random() < 0.12 or "preemption" in firsts):
            firsts.discard("preemption")
            state = "PREEMPTED"
        node = self.v2_node(f"{parent}/nodes/{s.node_id}", body, state, s.create_time)
        self._ailing(node, s)
        for symptom in node.symptoms:  # the worker must exist on this (other) type
            symptom["workerId"] = str(int(symptom["workerId"]) % len(node.endpoints))
        if state != "READY":
            node.health = ""
        elif node.health == "":
            node.health = "HEALTHY"
        if state == "READY" and not spot and "maintenance" in firsts and not clean:
            firsts.discard("maintenance")
            node.maintenance = self._seed_maintenance(self.clock())
        if queued:
            qr = QueuedResource(
                name=f"{parent}/queuedResources/{s.node_id}",
                specs=[{"parent": parent, "nodeId": s.node_id, "node": body}],
                node_names=[node.name],
                created=s.create_time - timedelta(minutes=20),
                state="SUSPENDED" if state == "PREEMPTED" else "ACTIVE",
                initiator="SERVICE" if state == "PREEMPTED" else "",
                spot=spot,
            )
            node.queued_resource = qr.name
            self._add_queued(qr)
        self._insert(node)

    @staticmethod
    def _seed_maintenance(now: datetime) -> Json:
        start = now.replace(microsecond=0) + timedelta(days=2)
        return {
            "type": "SCHEDULED",
            "maintenanceStatus": "PENDING",
            "windowStartTime": rfc3339(start),
            "windowEndTime": rfc3339(start + timedelta(hours=4)),
            "latestWindowStartTime": rfc3339(start + timedelta(days=3)),
            "canReschedule": True,
        }

    def _seed_queue(self, project: str, j: int, now: datetime) -> None:
        qr_id, zone, accelerator_type, runtime, state = QUEUES[j % len(QUEUES)]
        parent = f"projects/{project}/locations/{zone}"
        node = {"acceleratorType": accelerator_type, "runtimeVersion": runtime}
        spot = "spot" in qr_id
        qr = QueuedResource(
            name=f"{parent}/queuedResources/{qr_id}",
            specs=[{"parent": parent, "nodeId": qr_id, "node": node}],
            node_names=[f"{parent}/nodes/{qr_id}"],
            created=now - timedelta(hours=3 + j),
            state=state,
            initiator="SERVICE" if state in ("SUSPENDED", "FAILED") else "",
            spot=spot,
            held=state == "WAITING_FOR_RESOURCES",
        )
        if state == "FAILED":
            qr.failed = rpc_status("RESOURCE_EXHAUSTED", stockout_message(zone))
        if state == "WAITING_FOR_RESOURCES":
            self._waiting.add(qr.name)
        self._add_queued(qr)
