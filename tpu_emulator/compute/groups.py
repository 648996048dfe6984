"""Managed instance groups (a multi-host slice is one, placed by a workload policy) and their
resize requests (flex-start capacity): ACCEPTED (queued until capacity; a stocked-out zone
keeps it there) -> CREATING (its VMs join the group) -> SUCCEEDED, or FAILED (an exhausted
quota; VMs made so far are rolled back), or CANCELLED while queued. Flex-start VMs are deleted
by the group when their requestedRunDuration ends."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from tpu_emulator.compute import listing, rules
from tpu_emulator.compute.errors import (
    ComputeError,
    already_exists,
    bad_request,
    invalid,
    not_found,
    quota,
)
from tpu_emulator.compute.instances import InstancesMixin
from tpu_emulator.compute.model import Instance, Mig, ResizeRequest
from tpu_emulator.compute.operations import mutation
from tpu_emulator.compute.wire import link, zone_path
from tpu_emulator.compute.wire_capacity import (
    managed_instance_json,
    mig_json,
    mig_path,
    resize_json,
    resize_path,
)

Json = dict[str, Any]
_DONE = ("SUCCEEDED", "FAILED", "CANCELLED")


class GroupsMixin(InstancesMixin):
    # ----- groups ------------------------------------------------------------------------------

    def _mig(self, project: str, zone: str, name: str) -> Mig:
        self.zone(project, zone)
        mig = self.migs.get((project, zone, name))
        if mig is None:
            raise not_found(f"{zone_path(project, zone)}/instanceGroupManagers/{name}")
        return mig

    def members(self, mig: Mig) -> list[Instance]:
        found = (self.instances.get((mig.project, f"{mig.zone}/{n}")) for n in mig.members)
        return [i for i in found if i is not None]

    def render_mig(self, mig: Mig) -> Json:
        return mig_json(mig, self.members(mig))

    def list_migs(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/instanceGroupManagers"
        with self._lock:
            self.advance()
            self.zone(project, zone)
            names = sorted(n for (p, z, n) in self.migs if (p, z) == (project, zone))
            items, token = listing.page(
                names,
                lambda n: self.render_mig(self.migs[(project, zone, n)]),
                listing.query(params, path, "InstanceGroupManager"),
            )
            return listing.list_body("compute#instanceGroupManagerList", path, items, token)

    def get_mig(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return self.render_mig(self._mig(project, zone, name))

    def aggregated_migs(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/aggregated/instanceGroupManagers"
        return self._aggregated(
            project, params, path, "InstanceGroupManager", "instanceGroupManagers", self.migs,
            self.render_mig, "compute#instanceGroupManagerAggregatedList",
        )  # fmt: skip

    def list_managed_instances(
        self, project: str, zone: str, name: str, params: dict[str, str]
    ) -> Json:
        with self._lock:
            self.advance()
            mig = self._mig(project, zone, name)
            path = f"{mig_path(mig)}/listManagedInstances"
            members = {i.name: i for i in self.members(mig)}
            items, token = listing.page(
                sorted(members),
                lambda n: managed_instance_json(members[n], mig.template, None),
                listing.query(params, path, "ManagedInstance"),
            )
            body: Json = {"managedInstances": items} if items else {}
            if token:
                body["nextPageToken"] = token
            return body

    def member_name(self, mig: Mig, salt: str, i: int) -> str:
        """`<baseInstanceName>-<4 characters>`, as a group names the VMs it makes; never the
        name of an instance that exists."""
        digits = "abcdefghijklmnopqrstuvwxyz0123456789"
        for attempt in range(1000):
            value = zlib.crc32(f"{mig.name}/{salt}/{i}/{attempt}".encode())
            name = f"{mig.base_name}-" + "".join(digits[(value >> (5 * k)) % 36] for k in range(4))
            if (mig.project, f"{mig.zone}/{name}") not in self.instances:
                return name
        raise bad_request(f"No free instance name in group {mig.name}.")

    def add_member(
        self, mig: Mig, name: str, status: str, scheduling: Json | None = None
    ) -> Instance:
        reservation = rules.reservation_name(mig.spec.get("reservationAffinity"))
        spec = dict(mig.spec)
        if (
            reservation is not None
            and (mig.project, mig.zone, reservation) not in self.reservations
        ):
            spec.pop("reservationAffinity")
        inst = self.new_instance(
            mig.project, mig.zone, name, mig.machine_type, spec,
            dict(scheduling or mig.scheduling), dict(mig.labels), status,
        )  # fmt: skip
        inst.mig = mig.name
        if name not in mig.members:
            mig.members.append(name)
        return inst

    def member_gone(self, inst: Instance, shrink: bool) -> None:
        mig = self.migs.get((inst.project, inst.zone, inst.mig)) if inst.mig else None
        if mig is None:
            return
        if inst.name in mig.members:
            mig.members.remove(inst.name)
        if shrink:
            mig.target_size = max(0, mig.target_size - 1)
        elif len(mig.members) < mig.target_size:
            self._recreate(mig, inst)

    def _recreate(self, mig: Mig, old: Instance) -> None:
        """The group wants the member back: the same name, a new VM (CREATING). A group that
        cannot (its reservation is full) stays short, as Google's keeps retrying."""
        try:
            inst = self.add_member(mig, old.name, "PROVISIONING", old.scheduling)
        except ComputeError:
            return
        gen = inst.gen
        self.later(self._host.op_seconds, lambda due: self._member_up(inst, gen, due))

    def _member_up(self, inst: Instance, gen: int, due: datetime) -> None:
        if inst.gen == gen and inst.status in ("PROVISIONING", "STAGING"):
            self.start_running(inst, due)

    # ----- resize requests ---------------------------------------------------------------------

    def _rr(self, project: str, zone: str, mig_name: str, name: str) -> tuple[Mig, ResizeRequest]:
        mig = self._mig(project, zone, mig_name)
        rr = mig.requests.get(name)
        if rr is None:
            raise not_found(f"{mig_path(mig)}/resizeRequests/{name}")
        return mig, rr

    def list_resize_requests(
        self, project: str, zone: str, mig_name: str, params: dict[str, str]
    ) -> Json:
        with self._lock:
            self.advance()
            mig = self._mig(project, zone, mig_name)
            path = f"{mig_path(mig)}/resizeRequests"
            items, token = listing.page(
                sorted(mig.requests),
                lambda n: resize_json(mig.requests[n]),
                listing.query(params, path, "InstanceGroupManagerResizeRequest"),
            )
            kind = "compute#instanceGroupManagerResizeRequestList"
            return listing.list_body(kind, path, items, token)

    def get_resize_request(self, project: str, zone: str, mig_name: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return resize_json(self._rr(project, zone, mig_name, name)[1])

    @mutation
    def insert_resize_request(
        self, project: str, zone: str, mig_name: str, body: Json, request_id: str | None
    ) -> Json:
        mig = self._mig(project, zone, mig_name)
        name = rules.check_name(body.get("name"))
        if name in mig.requests:
            raise already_exists(f"{mig_path(mig)}/resizeRequests/{name}")
        rr = self._new_resize_request(mig, name, body)
        mig.requests[name] = rr
        gen = rr.gen
        self.later(self._host.op_seconds, lambda due: self._try_provision(rr, gen, due))
        return self.start_op(
            project, zone, "insert", (link(resize_path(rr)), rr.uid), None, request_id
        )

    def _new_resize_request(self, mig: Mig, name: str, body: Json) -> ResizeRequest:
        names = [
            rules.check_name(i.get("name"), "instances.name") for i in body.get("instances") or []
        ]
        taken = [n for n in names if (mig.project, f"{mig.zone}/{n}") in self.instances]
        if taken or len(set(names)) != len(names):
            why = "Instance names must be new and distinct."
            raise invalid("instances", ", ".join(taken or names), why)
        resize_by = body.get("resizeBy")
        if bool(names) == (resize_by is not None):
            raise invalid("resizeBy", resize_by, "Set exactly one of resizeBy and instances.")
        if resize_by is not None and int(resize_by) < 1:
            raise invalid("resizeBy", resize_by, "Must be at least 1.")
        run = body.get("requestedRunDuration")
        return ResizeRequest(
            project=mig.project,
            zone=mig.zone,
            mig=mig.name,
            name=name,
            uid=self.new_id(),
            created=self.clock(),
            count=len(names) or int(resize_by or 0),
            names=names,
            run_seconds=rules.duration_seconds(run, "requestedRunDuration") if run else None,
            description=str(body.get("description", "")),
        )

    def advance(self) -> None:
        """Due steps, then requests that waited for a stocked-out zone whose capacity is back."""
        super().advance()
        for rr in [r for r in self.waiting if r.zone not in self.faults.stockout]:
            self.waiting.remove(rr)
            if rr.waiting:
                rr.waiting = False
                self._try_provision(rr, rr.gen, self.clock())

    def _try_provision(self, rr: ResizeRequest, gen: int, due: datetime) -> None:
        """ACCEPTED -> CREATING, if the zone has capacity and quota."""
        if rr.gen != gen or rr.state != "ACCEPTED" or rr.held:
            return
        if rr.zone in self.faults.quota:
            family = self.migs[(rr.project, rr.zone, rr.mig)].machine_type.split("-", 1)[0]
            failure = quota(
                rr.zone.rsplit("-", 1)[0], f"TPUS_{family.upper()}_PER_PROJECT_PER_REGION"
            )
            self.fail_resize(rr, failure["error"])
            return
        if rr.zone in self.faults.stockout:
            rr.waiting = True  # advance() provisions it once capacity returns
            self.waiting.append(rr)
            return
        self.provision(rr, due, "PROVISIONING")

    def provision(self, rr: ResizeRequest, when: datetime, status: str) -> None:
        """CREATING: the request's VMs join the group; SUCCEEDED once they all run."""
        mig = self.migs[(rr.project, rr.zone, rr.mig)]
        rr.state, rr.gen, rr.waiting = "CREATING", rr.gen + 1, False
        scheduling = dict(mig.scheduling)
        if rr.run_seconds is not None:
            scheduling = rules.scheduling(
                {**scheduling, "maxRunDuration": {"seconds": str(rr.run_seconds)}}
            )
        names = rr.names or [self.member_name(mig, rr.name, i) for i in range(rr.count)]
        if any((rr.project, f"{rr.zone}/{n}") in self.instances for n in names):
            taken = {"code": "RESOURCE_ALREADY_EXISTS", "message": "An instance name is taken."}
            self.fail_resize(rr, {"errors": [taken]})
            return
        mig.target_size += len(names)
        rr.made = [self.add_member(mig, n, "PROVISIONING", scheduling).name for n in names]
        gen = rr.gen
        if status == "RUNNING":
            self._succeeded(rr, gen, when)
        else:
            self.later(self._host.op_seconds, lambda due: self._succeeded(rr, gen, due), when)

    def _succeeded(self, rr: ResizeRequest, gen: int, due: datetime) -> None:
        if rr.gen != gen or rr.state != "CREATING":
            return
        for name in rr.made:
            inst = self.instances.get((rr.project, f"{rr.zone}/{name}"))
            if inst is not None and inst.status in ("PROVISIONING", "STAGING"):
                self.start_running(inst, due)
        rr.state = "SUCCEEDED"

    def fail_resize(self, rr: ResizeRequest, error: Json) -> None:
        """FAILED; VMs it made are rolled back and removed from the group."""
        rr.state, rr.gen, rr.error, rr.last_error = "FAILED", rr.gen + 1, error, error
        rr.waiting = False
        for name in rr.made:
            inst = self.instances.get((rr.project, f"{rr.zone}/{name}"))
            if inst is not None:
                self.remove_instance(inst, shrink=True)
        rr.made = []

    @mutation
    def cancel_resize_request(
        self, project: str, zone: str, mig_name: str, name: str, request_id: str | None
    ) -> Json:
        _, rr = self._rr(project, zone, mig_name, name)
        if rr.state != "ACCEPTED":
            raise bad_request(
                f"Resize request '{name}' is {rr.state}: only a request still queued "
                "(ACCEPTED) can be cancelled."
            )
        rr.state, rr.gen, rr.waiting = "CANCELLED", rr.gen + 1, False
        target = (link(resize_path(rr)), rr.uid)
        return self.start_op(project, zone, "cancel", target, None, request_id)

    @mutation
    def delete_resize_request(
        self, project: str, zone: str, mig_name: str, name: str, request_id: str | None
    ) -> Json:
        mig, rr = self._rr(project, zone, mig_name, name)
        if rr.state not in _DONE:
            raise bad_request(
                f"Resize request '{name}' is {rr.state}: an active request cannot be "
                "deleted; cancel it first."
            )
        del mig.requests[name]
        target = (link(resize_path(rr)), rr.uid)
        return self.start_op(project, zone, "delete", target, None, request_id)
