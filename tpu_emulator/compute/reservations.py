"""Reserved capacity: resource policies (workload policies), reservations, their blocks and
sub-blocks (health, maintenance, reportFaulty, performMaintenance), future reservations, and
the instances that consume a reservation's sub-blocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tpu_emulator.compute import catalog, listing
from tpu_emulator.compute.errors import bad_request, invalid, not_found
from tpu_emulator.compute.model import Block, Reservation, SubBlock
from tpu_emulator.compute.operations import OperationsMixin, mutation
from tpu_emulator.compute.wire import link, zone_path
from tpu_emulator.compute.wire_capacity import (
    block_json,
    future_json,
    policy_json,
    reservation_json,
    reservation_path,
    sub_block_json,
)

Json = dict[str, Any]


class ReservationsMixin(OperationsMixin):
    # ----- consumption (instances) -------------------------------------------------------------

    def claim(self, project: str, zone: str, name: str, machine_type: str) -> tuple[str, str, str]:
        """A free VM slot in the named reservation: (reservation, block, sub-block)."""
        res = self.reservations.get((project, zone, name))
        if res is None or res.machine_type != machine_type:
            raise invalid(
                "resource.reservationAffinity",
                name,
                f"Specified reservation '{name}' does not exist in zone '{zone}' or does not "
                f"match machine type '{machine_type}'.",
            )
        for block, sub in res.sub_blocks():
            if sub.in_use < sub.count - sub.degraded:
                sub.in_use += 1
                return res.name, block.name, sub.name
        raise bad_request(
            f"Specified reservations [{reservation_path(res)}] do not have available resources "
            "for the request."
        )

    def release(self, project: str, zone: str, consumed: tuple[str, str, str] | None) -> None:
        if consumed is None:
            return
        sub = self._sub_block_of(project, zone, consumed)
        if sub is not None and sub.in_use > 0:
            sub.in_use -= 1

    def _sub_block_of(
        self, project: str, zone: str, consumed: tuple[str, str, str]
    ) -> SubBlock | None:
        res = self.reservations.get((project, zone, consumed[0]))
        block = res.blocks.get(consumed[1]) if res else None
        return block.sub_blocks.get(consumed[2]) if block else None

    # ----- lookups -----------------------------------------------------------------------------

    def _reservation(self, project: str, zone: str, name: str) -> Reservation:
        self.zone(project, zone)
        res = self.reservations.get((project, zone, name))
        if res is None:
            raise not_found(f"{zone_path(project, zone)}/reservations/{name}")
        return res

    def _block(
        self, project: str, zone: str, reservation: str, name: str
    ) -> tuple[Reservation, Block]:
        res = self._reservation(project, zone, reservation)
        block = res.blocks.get(name)
        if block is None:
            raise not_found(f"{reservation_path(res)}/reservationBlocks/{name}")
        return res, block

    def _sub_block(
        self, project: str, zone: str, parent: str, name: str
    ) -> tuple[Reservation, Block, SubBlock]:
        _, reservation, _, block_name = parent.split("/")
        res, block = self._block(project, zone, reservation, block_name)
        sub = block.sub_blocks.get(name)
        if sub is None:
            raise not_found(f"{zone_path(project, zone)}/{parent}/reservationSubBlocks/{name}")
        return res, block, sub

    # ----- reservations ------------------------------------------------------------------------

    def list_reservations(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/reservations"
        with self._lock:
            self.advance()
            self.zone(project, zone)
            found = sorted(
                r.name for (p, z, _), r in self.reservations.items() if (p, z) == (project, zone)
            )
            items, token = listing.page(
                found,
                lambda n: reservation_json(self.reservations[(project, zone, n)]),
                listing.query(params, path, "Reservation"),
            )
            return listing.list_body("compute#reservationList", path, items, token)

    def get_reservation(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return reservation_json(self._reservation(project, zone, name))

    def aggregated_reservations(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/aggregated/reservations"
        return self._aggregated(
            project, params, path, "Reservation", "reservations", self.reservations,
            lambda r: reservation_json(r), "compute#reservationAggregatedList",
        )  # fmt: skip

    def _aggregated(
        self,
        project: str,
        params: dict[str, str],
        path: str,
        schema: str,
        field: str,
        store: dict[tuple[str, str, str], Any],
        render: Any,
        kind: str,
        regional: bool = False,
    ) -> Json:
        """An aggregated list over a small store (reservations, groups, policies)."""
        q = listing.query(params, path, schema)
        partial = params.get("returnPartialSuccess", "false") == "true"
        with self._lock:
            self.advance()
            unreachable = [] if regional else self.unreachable_scopes(partial)
            prefix = "regions" if regional else "zones"
            keys = sorted(
                f"{prefix}/{where}/{name}"
                for (p, where, name) in store
                if p == project and f"zones/{where}" not in unreachable
            )
            items, token = listing.page(
                keys, lambda k: render(store[(project, k.split("/")[1], k.split("/")[2])]), q
            )
            scopes = [f"regions/{r}" for r in catalog.REGIONS] if regional else self.zone_scopes()
            return listing.aggregated_body(kind, path, field, items, token, scopes, unreachable)

    # ----- blocks and sub-blocks ---------------------------------------------------------------

    def list_blocks(
        self, project: str, zone: str, reservation: str, params: dict[str, str]
    ) -> Json:
        with self._lock:
            self.advance()
            res = self._reservation(project, zone, reservation)
            path = f"{reservation_path(res)}/reservationBlocks"
            items, token = listing.page(
                sorted(res.blocks),
                lambda n: block_json(res, res.blocks[n]),
                listing.query(params, path, "ReservationBlock"),
            )
            return listing.list_body("compute#reservationBlock", path, items, token)

    def get_block(self, project: str, zone: str, reservation: str, name: str) -> Json:
        with self._lock:
            self.advance()
            res, block = self._block(project, zone, reservation, name)
            return {"resource": block_json(res, block)}

    def list_sub_blocks(self, project: str, zone: str, parent: str, params: dict[str, str]) -> Json:
        _, reservation, _, block_name = parent.split("/")
        with self._lock:
            self.advance()
            res, block = self._block(project, zone, reservation, block_name)
            path = f"{zone_path(project, zone)}/{parent}/reservationSubBlocks"
            items, token = listing.page(
                sorted(block.sub_blocks),
                lambda n: sub_block_json(res, block, block.sub_blocks[n]),
                listing.query(params, path, "ReservationSubBlock"),
            )
            return listing.list_body("compute#reservationSubBlock", path, items, token)

    def get_sub_block(self, project: str, zone: str, parent: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return {"resource": sub_block_json(*self._sub_block(project, zone, parent, name))}

    @mutation
    def report_faulty_sub_block(
        self, project: str, zone: str, parent: str, name: str, body: Json, request_id: str | None
    ) -> Json:
        """A reported sub-block counts one more degraded host (the report is the customer's
        word; the service finds and drains the host)."""
        _, _, sub = self._sub_block(project, zone, parent, name)
        if not body.get("faultReasons"):
            raise invalid("faultReasons", None, "Say what is wrong: at least one fault reason.")
        target = (
            link(f"{zone_path(project, zone)}/{parent}/reservationSubBlocks/{name}"),
            sub.uid,
        )

        def degrade(due: datetime) -> Json | None:
            sub.degraded = min(sub.count, sub.degraded + 1)
            return None

        return self.start_op(project, zone, "reportFaulty", target, degrade, request_id)

    @mutation
    def perform_sub_block_maintenance(
        self, project: str, zone: str, parent: str, name: str, request_id: str | None
    ) -> Json:
        _, _, sub = self._sub_block(project, zone, parent, name)
        if sub.maintenance is None:
            raise bad_request(f"No maintenance is pending for reservation sub-block {name}.")
        sub.ongoing = True
        sub.maintenance["maintenanceStatus"] = "ONGOING"
        target = (
            link(f"{zone_path(project, zone)}/{parent}/reservationSubBlocks/{name}"),
            sub.uid,
        )

        def done(due: datetime) -> Json | None:
            sub.ongoing, sub.maintenance = False, None
            return None

        return self.start_op(project, zone, "performMaintenance", target, done, request_id)

    # ----- resource policies and future reservations -------------------------------------------

    def list_policies(self, project: str, region: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/regions/{region}/resourcePolicies"
        with self._lock:
            self.region(project, region)
            names = sorted(n for (p, r, n) in self.policies if (p, r) == (project, region))
            items, token = listing.page(
                names,
                lambda n: policy_json(self.policies[(project, region, n)]),
                listing.query(params, path, "ResourcePolicy"),
            )
            return listing.list_body("compute#resourcePolicyList", path, items, token)

    def get_policy(self, project: str, region: str, name: str) -> Json:
        with self._lock:
            self.region(project, region)
            policy = self.policies.get((project, region, name))
            if policy is None:
                raise not_found(f"projects/{project}/regions/{region}/resourcePolicies/{name}")
            return policy_json(policy)

    def aggregated_policies(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/aggregated/resourcePolicies"
        return self._aggregated(
            project, params, path, "ResourcePolicy", "resourcePolicies", self.policies,
            policy_json, "compute#resourcePolicyAggregatedList", regional=True,
        )  # fmt: skip

    def list_futures(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/futureReservations"
        with self._lock:
            self.advance()
            self.zone(project, zone)
            names = sorted(n for (p, z, n) in self.futures if (p, z) == (project, zone))
            items, token = listing.page(
                names,
                lambda n: future_json(self.futures[(project, zone, n)]),
                listing.query(params, path, "FutureReservation"),
            )
            return listing.list_body("compute#futureReservationsListResponse", path, items, token)

    def get_future(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            self.zone(project, zone)
            fr = self.futures.get((project, zone, name))
            if fr is None:
                raise not_found(f"{zone_path(project, zone)}/futureReservations/{name}")
            return future_json(fr)
