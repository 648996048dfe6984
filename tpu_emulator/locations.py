"""Locations and what each offers: accelerator types and tensorflow versions (v1alpha1),
accelerator types with AcceleratorConfigs and runtime versions (v2), service identity (v2)."""

from __future__ import annotations

import re

from tpu_emulator import catalog, listfilter
from tpu_emulator.core import Core
from tpu_emulator.errors import ApiError, Json
from tpu_emulator.model import project_number
from tpu_emulator.paging import page_items

_PROJECT = re.compile(r"^projects/([^/]+)$")
# (api, collection) -> (the item's field, the zone's values)
_OFFERS = {
    ("v1alpha1", "acceleratorTypes"): ("type", lambda z: catalog.ZONES.get(z, ((), ()))[0]),
    ("v1alpha1", "tensorflowVersions"): ("version", lambda z: catalog.ZONES.get(z, ((), ()))[1]),
    ("v1", "acceleratorTypes"): ("type", lambda z: catalog.ZONES.get(z, ((), ()))[0]),
    ("v1", "tensorflowVersions"): ("version", lambda z: catalog.ZONES.get(z, ((), ()))[1]),
    ("v2", "acceleratorTypes"): ("type", catalog.v2_types),
    ("v2", "runtimeVersions"): ("version", catalog.v2_runtime_versions),
}


# What each list can filter and order by (AIP-160 fields of its items).
_LOCATION_FIELDS = ("name", "locationId", "displayName", "labels")
_OFFER_FIELDS = {"acceleratorTypes": ("name", "type"), "tensorflowVersions": ("name", "version")}
_OFFER_FIELDS["runtimeVersions"] = ("name", "version")


def _location_json(name: str) -> Json:
    """Empty maps are left out, as Google's proto3 JSON leaves them."""
    zone = name.rsplit("/", 1)[1]
    return {"name": name, "locationId": zone, "displayName": zone}


def _item(api: str, kind: str, name: str) -> Json:
    field, _ = _OFFERS[(api, kind)]
    value = name.rsplit("/", 1)[1]
    body: Json = {"name": name, field: value}
    if api == "v2" and kind == "acceleratorTypes":
        body["acceleratorConfigs"] = [catalog.accelerator_config(value)]
    return body


class LocationsMixin(Core):
    def list_locations(
        self, name: str, page_size: int | None, page_token: str | None, filter_: str = ""
    ) -> Json:
        with self._lock:
            if not _PROJECT.match(name):
                raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {name!r}", field="name")
            items = [
                _location_json(f"{name}/locations/{zone}") for zone in sorted(catalog.ALL_ZONES)
            ]
            items = listfilter.apply(items, filter_, _LOCATION_FIELDS)
            key = f"{name}?{filter_}"
            found, token = page_items(items, key, page_token, page_size)
            body: Json = {"locations": found} if found else {}
            if token:
                body["nextPageToken"] = token
            return body

    def get_location(self, name: str) -> Json:
        with self._lock:
            self._location(name)
            return _location_json(name)

    def list_offers(
        self,
        api: str,
        kind: str,
        parent: str,
        page_size: int | None,
        token: str | None,
        filter_: str = "",
        order_by: str = "",
    ) -> Json:
        """acceleratorTypes, tensorflowVersions (v1alpha1, v1) or runtimeVersions (v2) of a
        zone, filtered and ordered as asked (by name when not)."""
        with self._lock:
            _, zone = self._location(parent)
            _, values = _OFFERS[(api, kind)]
            names = sorted(f"{parent}/{kind}/{v}" for v in values(zone))
            items = listfilter.apply(
                [_item(api, kind, n) for n in names], filter_, _OFFER_FIELDS[kind]
            )
            items = listfilter.order(items, order_by, _OFFER_FIELDS[kind])
            found, next_token = page_items(
                items, f"{parent}/{kind}?{filter_}&{order_by}", token, page_size
            )
            body: Json = {kind: found} if found else {}
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
