"""Zones and the TPU machine types each offers (zones list/get; machineTypes list, get,
aggregatedList). Zone metadata is global: an unreachable zone is still listed."""

from __future__ import annotations

import zlib
from typing import Any

from tpu_emulator.compute import catalog, listing
from tpu_emulator.compute.core import ComputeCore
from tpu_emulator.compute.errors import not_found
from tpu_emulator.compute.wire import machine_type_json, zone_json, zone_path

Json = dict[str, Any]


def _uid(text: str) -> str:
    return str(zlib.crc32(text.encode()) * 1000003 + 11)


class PlacesMixin(ComputeCore):
    def list_zones(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/zones"
        items, token = listing.page(
            list(catalog.ZONES),
            lambda z: zone_json(project, z, _uid(z)),
            listing.query(params, path, "Zone"),
        )
        return listing.list_body("compute#zoneList", path, items, token)

    def get_zone(self, project: str, zone: str) -> Json:
        if zone not in catalog.ZONES:
            raise not_found(zone_path(project, zone))
        return zone_json(project, zone, _uid(zone))

    def list_machine_types(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/machineTypes"
        with self._lock:
            self.zone(project, zone)
        specs = {s.name: s for s in catalog.machine_types(zone)}
        items, token = listing.page(
            sorted(specs),
            lambda n: machine_type_json(project, zone, specs[n], _uid(f"{zone}/{n}")),
            listing.query(params, path, "MachineType"),
        )
        return listing.list_body("compute#machineTypeList", path, items, token)

    def get_machine_type(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.zone(project, zone)
        spec = catalog.MACHINE_TYPES.get(name)
        if spec is None or not catalog.offered(zone, name):
            raise not_found(f"{zone_path(project, zone)}/machineTypes/{name}")
        return machine_type_json(project, zone, spec, _uid(f"{zone}/{name}"))

    def aggregated_machine_types(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/aggregated/machineTypes"
        q = listing.query(params, path, "MachineType")
        with self._lock:
            unreachable = self.unreachable_scopes(params.get("returnPartialSuccess") == "true")
        keys = [
            f"zones/{z}/{s.name}"
            for z in catalog.ZONES
            if f"zones/{z}" not in unreachable
            for s in catalog.machine_types(z)
        ]

        def render(key: str) -> Json:
            _, zone, name = key.split("/")
            spec = catalog.MACHINE_TYPES[name]
            return machine_type_json(project, zone, spec, _uid(f"{zone}/{name}"))

        items, token = listing.page(sorted(keys), render, q)
        return listing.aggregated_body(
            "compute#machineTypeAggregatedList", path, "machineTypes", items, token,
            self.zone_scopes(), unreachable,
        )  # fmt: skip
