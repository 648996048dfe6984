"""Locations and what each offers: accelerator types and tensorflow versions (v1alpha1),
accelerator types with AcceleratorConfigs and runtime versions (v2), service identity (v2)."""

from __future__ import annotations

import re

from tpu_emulator import catalog
from tpu_emulator.core import Core
from tpu_emulator.errors import ApiError, Json
from tpu_emulator.model import project_number
from tpu_emulator.paging import page

_PROJECT = re.compile(r"^projects/([^/]+)$")
# (api, collection) -> (the item's field, the zone's values)
_OFFERS = {
    ("v1alpha1", "acceleratorTypes"): ("type", lambda z: catalog.ZONES.get(z, ((), ()))[0]),
    ("v1alpha1", "tensorflowVersions"): ("version", lambda z: catalog.ZONES.get(z, ((), ()))[1]),
    ("v2", "acceleratorTypes"): ("type", catalog.v2_types),
    ("v2", "runtimeVersions"): ("version", catalog.v2_runtime_versions),
}


def _location_json(name: str) -> Json:
    zone = name.rsplit("/", 1)[1]
    return {"name": name, "locationId": zone, "displayName": zone, "labels": {}, "metadata": {}}


def _item(api: str, kind: str, name: str) -> Json:
    field, _ = _OFFERS[(api, kind)]
    value = name.rsplit("/", 1)[1]
    body: Json = {"name": name, field: value}
    if api == "v2" and kind == "acceleratorTypes":
        body["acceleratorConfigs"] = [catalog.accelerator_config(value)]
    return body


class LocationsMixin(Core):
    def list_locations(self, name: str, page_size: int | None, page_token: str | None) -> Json:
        with self._lock:
            if not _PROJECT.match(name):
                raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {name!r}")
            names = [f"{name}/locations/{zone}" for zone in catalog.ALL_ZONES]
            found, token = page(names, name, name, page_token, page_size)
            body: Json = {"locations": [_location_json(n) for n in found]}
            if token:
                body["nextPageToken"] = token
            return body

    def get_location(self, name: str) -> Json:
        with self._lock:
            self._location(name)
            return _location_json(name)

    def list_offers(
        self, api: str, kind: str, parent: str, page_size: int | None, token: str | None
    ) -> Json:
        """acceleratorTypes, tensorflowVersions (v1alpha1) or runtimeVersions (v2) of a zone."""
        with self._lock:
            _, zone = self._location(parent)
            _, values = _OFFERS[(api, kind)]
            names = sorted(f"{parent}/{kind}/{v}" for v in values(zone))
            found, next_token = page(names, f"{parent}/{kind}/", parent, token, page_size)
            body: Json = {kind: [_item(api, kind, n) for n in found]}
            if next_token:
                body["nextPageToken"] = next_token
            return body

    def get_offer(self, api: str, kind: str, name: str) -> Json:
        with self._lock:
            parent, _, value = name.rpartition(f"/{kind}/")
            _, zone = self._location(parent)
            _, values = _OFFERS[(api, kind)]
            if value not in values(zone):
                raise ApiError("NOT_FOUND", f"Resource '{name}' was not found")
            return _item(api, kind, name)

    # v1alpha1 names, kept for callers of the Python API.
    def list_accelerator_types(self, parent: str, page_size: int | None, token: str | None) -> Json:
        return self.list_offers("v1alpha1", "acceleratorTypes", parent, page_size, token)

    def get_accelerator_type(self, name: str) -> Json:
        return self.get_offer("v1alpha1", "acceleratorTypes", name)

    def list_tensorflow_versions(
        self, parent: str, page_size: int | None, token: str | None
    ) -> Json:
        return self.list_offers("v1alpha1", "tensorflowVersions", parent, page_size, token)

    def get_tensorflow_version(self, name: str) -> Json:
        return self.get_offer("v1alpha1", "tensorflowVersions", name)

    def generate_service_identity(self, parent: str) -> Json:
        with self._lock:
            project, _ = self._location(parent)
            number = project_number(project)
            return {"identity": {"email": f"service-{number}@gcp-sa-tpu.iam.gserviceaccount.com"}}
