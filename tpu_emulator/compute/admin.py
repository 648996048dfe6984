"""The admin side of Compute (beside the real API, never inside it): what tests and the demo
inject into instances, groups, resize requests and reservation sub-blocks."""

from __future__ import annotations

import re
from typing import Any

from tpu_emulator.compute import discovery
from tpu_emulator.compute.errors import ComputeError
from tpu_emulator.compute.model import ResizeRequest
from tpu_emulator.compute.seeding import SeedingMixin
from tpu_emulator.compute.wire import instance_json
from tpu_emulator.compute.wire_capacity import resize_json, sub_block_json
from tpu_emulator.errors import ApiError
from tpu_emulator.rules import parse_time

Json = dict[str, Any]
_Z = r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)"
_TARGETS = (
    ("instance", re.compile(rf"^{_Z}/instances/(?P<name>[^/]+)$")),
    (
        "resize",
        re.compile(rf"^{_Z}/instanceGroupManagers/(?P<mig>[^/]+)/resizeRequests/(?P<name>[^/]+)$"),
    ),
    ("mig", re.compile(rf"^{_Z}/instanceGroupManagers/(?P<name>[^/]+)$")),
    (
        "sub_block",
        re.compile(
            rf"^{_Z}/(?P<parent>reservations/[^/]+/reservationBlocks/[^/]+)/reservationSubBlocks/(?P<name>[^/]+)$"
        ),
    ),
)
# The resize-request states an inject may ask for, with the words the admin API also takes.
_RESIZE_STATES = {"stuck": "ACCEPTED", "failed": "FAILED", "granted": "SUCCEEDED"}


def _refuse(data: Json, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ApiError("INVALID_ARGUMENT", f"cannot inject {sorted(unknown)}")


class AdminMixin(SeedingMixin):
    def is_compute_name(self, name: str) -> bool:
        return any(pattern.match(name) for _, pattern in _TARGETS)

    def inject(self, name: str, data: Json) -> Json:
        for kind, pattern in _TARGETS:
            match = pattern.match(name)
            if match is not None:
                with self._lock:
                    self.advance()
                    return dict(getattr(self, f"_inject_{kind}")(match.groupdict(), data))
        raise ApiError("NOT_FOUND", f"No Compute resource to inject at {name}")

    def _inject_instance(self, at: dict[str, str], data: Json) -> Json:
        """{status?, preempted?: true, hostError?: true, upcomingMaintenance?}"""
        _refuse(data, {"status", "preempted", "hostError", "upcomingMaintenance"})
        inst = self.instance(at["project"], at["zone"], at["name"])
        if "upcomingMaintenance" in data:
            inst.maintenance = self._maintenance(data["upcomingMaintenance"])
        if data.get("hostError"):
            self.host_error(inst)
        if data.get("preempted"):
            self.preempt(inst)
        if "status" in data:
            statuses = discovery.schema("Instance")["properties"]["status"]["enum"]
            if data["status"] not in statuses:
                raise ApiError("INVALID_ARGUMENT", f"status must be one of {sorted(statuses)}")
            if data["status"] == "RUNNING":
                self.start_running(inst, self.clock())
            elif data["status"] == "TERMINATED":
                self.stop_now(inst, self.clock())
            else:
                inst.gen += 1
                inst.status = data["status"]
        return instance_json(inst)

    @staticmethod
    def _maintenance(value: object) -> Json | None:
        if not value:
            return None
        if not isinstance(value, dict):
            raise ApiError("INVALID_ARGUMENT", "upcomingMaintenance must be an object")
        out = {"type": "SCHEDULED", "maintenanceStatus": "PENDING", **value}
        try:
            discovery.check_body("UpcomingMaintenance", out, "upcomingMaintenance")
        except ComputeError as exc:
            raise ApiError("INVALID_ARGUMENT", exc.message) from None
        return out

    def _inject_mig(self, at: dict[str, str], data: Json) -> Json:
        """{brokenHosts: n}: n of its RUNNING VMs get a host error (REPAIRING)."""
        _refuse(data, {"brokenHosts"})
        mig = self._mig(at["project"], at["zone"], at["name"])
        broken = data.get("brokenHosts", 0)
        if not isinstance(broken, int) or isinstance(broken, bool) or broken < 0:
            raise ApiError("INVALID_ARGUMENT", "brokenHosts must be a count")
        running = [i for i in self.members(mig) if i.status == "RUNNING"]
        for inst in running[:broken]:
            self.host_error(inst)
        return self.render_mig(mig)

    def _inject_resize(self, at: dict[str, str], data: Json) -> Json:
        """{state?, createTime?}: stuck (ACCEPTED, held until another inject), granted
        (SUCCEEDED now, its VMs RUNNING), failed (FAILED, VMs rolled back), or any API state;
        createTime (RFC 3339) backdates its creationTimestamp (a request queued long ago)."""
        _refuse(data, {"state", "createTime"})
        _, rr = self._rr(at["project"], at["zone"], at["mig"], at["name"])
        if "createTime" in data:
            rr.created = parse_time(data["createTime"], "createTime")
        if "state" in data:
            state = _RESIZE_STATES.get(str(data["state"]), str(data["state"]))
            self._move_resize(rr, state, data["state"] == "stuck")
        return resize_json(rr)

    def _move_resize(self, rr: ResizeRequest, state: str, stuck: bool) -> None:
        now = self.clock()
        if state == "ACCEPTED":
            rr.state, rr.held, rr.gen = "ACCEPTED", stuck, rr.gen + 1
            if not stuck:
                self._try_provision(rr, rr.gen, now)
        elif state in ("CREATING", "SUCCEEDED"):
            rr.held = False
            if rr.state != "CREATING":
                rr.state = "ACCEPTED"
                self.provision(rr, now, "RUNNING" if state == "SUCCEEDED" else "PROVISIONING")
            elif state == "SUCCEEDED":
                self._succeeded(rr, rr.gen, now)
        elif state == "FAILED":
            self.fail_resize(rr, {"errors": [{"code": "INJECTED", "message": "Injected failure"}]})
        elif state == "CANCELLED":
            rr.state, rr.gen, rr.held = "CANCELLED", rr.gen + 1, False
        else:
            raise ApiError("INVALID_ARGUMENT", f"state {state!r} cannot be injected")

    def _inject_sub_block(self, at: dict[str, str], data: Json) -> Json:
        """{degradedHosts?: n, upcomingMaintenance?}"""
        _refuse(data, {"degradedHosts", "upcomingMaintenance"})
        res, block, sub = self._sub_block(at["project"], at["zone"], at["parent"], at["name"])
        if "degradedHosts" in data:
            count = data["degradedHosts"]
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= sub.count:
                raise ApiError("INVALID_ARGUMENT", f"degradedHosts must be 0..{sub.count}")
            sub.degraded = count
        if "upcomingMaintenance" in data:
            sub.maintenance = self._maintenance(data["upcomingMaintenance"])
            sub.ongoing = False
        return sub_block_json(res, block, sub)

    def instance_count(self) -> int:
        with self._lock:
            self.advance()
            return len(self.instances)
