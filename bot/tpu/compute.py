"""ComputeClient: Compute Engine's TPU VMs behind the `ComputeApi` port (googleapiclient's
bundled `compute.v1.json`, static discovery, the shared Transport plumbing).

A project's TPU instances are one filtered `instances.aggregatedList` (plus its pages); the
groups, flex-start requests and reservations around them are listed by `compute_capacity.py`.
Aggregated lists ask for partial success: rev 20261106 of the document no longer declares
`returnPartialSuccess`, so it is appended to the request's URI (docs/emulator.md), and the
zones named in `unreachables` make the answer partial.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from google.auth.credentials import Credentials

from bot.core.budget import RequestBudget
from bot.core.instances import (
    CapacityListing,
    FlexRequest,
    Instance,
    InstanceListing,
    SystemEvent,
)
from bot.core.names import Kind, ResourceName
from bot.core.operations import Operation
from bot.core.watching.instances import InstanceChanges, Seen, seen_of
from bot.tpu import compute_capacity, compute_discovery, wire_compute
from bot.tpu.errors import compute_error
from bot.tpu.transport import CallObserver, Transport, make_credentials
from bot.usecases.ports import (
    InvalidArgument,
)

GOOGLE_ENDPOINT = "https://compute.googleapis.com/"
SERVICE_PATH = "compute/v1/"
# TPU machine types (Compute's TPU VMs: v5e, v5p, v6e, TPU7x; docs/emulator.md, facts). The
# regular-expression filter must match the whole machineType link.
TPU_FILTER = r'machineType eq ".*/machineTypes/(ct5lp|ct5p|ct6e|tpu7x)-.*"'
SYSTEM_FILTER = (
    '(operationType = "compute.instances.preempted") OR '
    '(operationType = "compute.instances.hostError")'
)
MAX_RESULTS = 500  # Compute's largest page
PARTIAL = "&returnPartialSuccess=true"


class ComputeClient:
    """Thread-safe client for Compute Engine's TPU VMs. Build once; share between threads."""

    def __init__(
        self,
        endpoint: str = GOOGLE_ENDPOINT,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        observer: CallObserver | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        root = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.endpoint = root
        self.transport = Transport(
            root + SERVICE_PATH,
            credentials or make_credentials(root),
            timeout=timeout,
            retries=retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            observer=observer,
            budget=budget,
            label="Compute Engine API",
            errors=compute_error,
        )
        self.service: Any = self.transport.build("v1", "compute", compute_discovery.document())
        # Each collection built once: googleapiclient builds a collection's methods anew on
        # every `service.instances()` (a thousand objects in cycles, left to the collector).
        self.collections: dict[str, Any] = {
            name: getattr(self.service, name)() for name in compute_discovery.COLLECTIONS
        }
        self._new_request_id = request_id

    # ----- plumbing ------------------------------------------------------------------------

    def execute(self, method: str, request: Any) -> dict[str, Any]:
        return self.transport.execute(f"compute.{method}", request)

    def pages(
        self, method: str, collection: Any, request: Any, aggregated: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list (`list_next`) or aggregated list (`aggregatedList_next`, asking
        for partial success)."""
        if aggregated:
            request.uri += PARTIAL
        following = collection.aggregatedList_next if aggregated else collection.list_next
        while request is not None:
            response = self.execute(method, request)
            yield response
            request = following(request, response)

    def aggregated(
        self, method: str, collection: Any, key: str, project: str, **params: Any
    ) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
        """Each page's items (of every zone) and the zones it names as unreachable."""
        request = collection.aggregatedList(project=project, maxResults=MAX_RESULTS, **params)
        for page in self.pages(method, collection, request, aggregated=True):
            items = [i for scope in (page.get("items") or {}).values() for i in scope.get(key, [])]
            yield items, [str(u).rsplit("/", 1)[-1] for u in page.get("unreachables", [])]

    def _operation(self, method: str, request: Any) -> Operation:
        return wire_compute.operation_from_api(self.execute(method, request))

    def _rid(self, request_id: str | None) -> str:
        return request_id or self._new_request_id()

    @staticmethod
    def _at(name: str, kind: Kind) -> ResourceName:
        parsed = ResourceName.parse(name)
        if parsed.kind != kind.value or not parsed.in_zones:
            raise InvalidArgument(f"not a Compute Engine {kind.value} name: {name!r}")
        return parsed

    # ----- instances -----------------------------------------------------------------------

    def _instance_pages(self, project: str) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
        instances = self.collections["instances"]
        return self.aggregated(
            "instances.aggregatedList", instances, "instances", project, filter=TPU_FILTER
        )

    def list_instances(self, project: str, locations: Sequence[str] = ("-",)) -> InstanceListing:
        """Every TPU instance of a project in `locations` (`-` = every zone)."""
        found: list[Instance] = []
        unreachable: list[str] = []
        for items, missing in self._instance_pages(project):
            unreachable.extend(z for z in missing if _covers(locations, z))
            for item in items:
                instance = wire_compute.instance_from_api(item)
                if _covers(locations, instance.zone):
                    found.append(instance)
        return InstanceListing(tuple(found), tuple(dict.fromkeys(unreachable)))

    def list_instance_changes(
        self,
        project: str,
        locations: Sequence[str] = ("-",),
        known: Mapping[str, int] | None = None,
        wanted: Collection[str] = (),
    ) -> InstanceChanges:
        """The watcher's listing: the same request as `list_instances`, but only the instances
        whose fingerprint is not the one `known` (or that are `wanted`) are read further."""
        known = known or {}
        seen: list[Seen] = []
        unchanged: list[str] = []
        prints: dict[str, int] = {}
        unreachable: list[str] = []
        pages = 0
        for items, missing in self._instance_pages(project):
            pages += 1
            unreachable.extend(z for z in missing if _covers(locations, z))
            for item in items:
                name = wire_compute.name_of(str(item["selfLink"]))
                if not _covers(locations, name.split("/")[3]):
                    continue
                prints[name] = mark = wire_compute.fingerprint(item)
                if known.get(name) == mark and name not in wanted:
                    unchanged.append(name)
                else:
                    seen.append(seen_of(wire_compute.instance_from_api(item)))
        return InstanceChanges(
            tuple(seen), tuple(unchanged), prints, tuple(dict.fromkeys(unreachable)), pages
        )

    def get_instance(self, name: str) -> Instance:
        at = self._at(name, Kind.INSTANCE)
        request = self.collections["instances"].get(
            project=at.project, zone=at.zone, instance=at.id
        )
        return wire_compute.instance_from_api(self.execute("instances.get", request))

    def _instance_call(
        self, verb: str, name: str, request_id: str | None, **body: Any
    ) -> Operation:
        at = self._at(name, Kind.INSTANCE)
        method = getattr(self.collections["instances"], verb)
        request = method(
            project=at.project,
            zone=at.zone,
            instance=at.id,
            requestId=self._rid(request_id),
            **body,
        )
        return self._operation(f"instances.{verb}", request)

    def stop_instance(self, name: str, request_id: str | None = None) -> Operation:
        return self._instance_call("stop", name, request_id)

    def start_instance(self, name: str, request_id: str | None = None) -> Operation:
        return self._instance_call("start", name, request_id)

    def delete_instance(self, name: str, request_id: str | None = None) -> Operation:
        return self._instance_call("delete", name, request_id)

    def set_instance_labels(
        self,
        name: str,
        labels: Mapping[str, str],
        fingerprint: str,
        request_id: str | None = None,
    ) -> Operation:
        body = {"labels": dict(labels), "labelFingerprint": fingerprint}
        return self._instance_call("setLabels", name, request_id, body=body)

    def report_host_faulty(
        self, name: str, body: Mapping[str, Any], request_id: str | None = None
    ) -> Operation:
        return self._instance_call("reportHostAsFaulty", name, request_id, body=dict(body))

    def perform_maintenance(self, name: str, request_id: str | None = None) -> Operation:
        """Start the pending maintenance of an instance or of a reservation sub-block."""
        parsed = ResourceName.parse(name)
        if parsed.kind == Kind.SUB_BLOCK:
            return compute_capacity.perform_sub_block_maintenance(
                self, parsed, self._rid(request_id)
            )
        return self._instance_call("performMaintenance", name, request_id)

    # ----- what the service did on its own, and operations --------------------------------

    def system_events(self, project: str, zone: str) -> list[SystemEvent]:
        """The preemptions and host errors a zone's operations record."""
        ops = self.collections["zoneOperations"]
        request = ops.list(project=project, zone=zone, filter=SYSTEM_FILTER, maxResults=MAX_RESULTS)
        found = []
        for page in self.pages("zoneOperations.list", ops, request):
            for item in page.get("items", []):
                event = wire_compute.system_event_of(item)
                if event is not None:
                    found.append(event)
        return found

    def get_operation(self, name: str) -> Operation:
        at = self._at(name, Kind.OPERATION)
        ops = self.collections["zoneOperations"]
        request = ops.get(project=at.project, zone=at.zone, operation=at.id)
        return self._operation("zoneOperations.get", request)

    def list_operations(self, project: str, zone: str, target: str = "") -> list[Operation]:
        """A zone's operations (on `target` only, if given)."""
        ops = self.collections["zoneOperations"]
        where = f'targetLink = "{wire_compute.link(target)}"' if target else None
        request = ops.list(project=project, zone=zone, filter=where, maxResults=MAX_RESULTS)
        return [
            wire_compute.operation_from_api(item)
            for page in self.pages("zoneOperations.list", ops, request)
            for item in page.get("items", [])
        ]

    # ----- capacity: groups, flex-start requests, reservations -----------------------------

    def list_capacity(self, project: str, locations: Sequence[str] = ("-",)) -> CapacityListing:
        return compute_capacity.list_capacity(self, project, locations)

    def get_flex_request(self, name: str) -> FlexRequest:
        return compute_capacity.get_flex_request(self, name)

    def cancel_flex_request(self, name: str, request_id: str | None = None) -> Operation:
        return compute_capacity.flex_call(self, "cancel", name, self._rid(request_id))

    def delete_flex_request(self, name: str, request_id: str | None = None) -> Operation:
        return compute_capacity.flex_call(self, "delete", name, self._rid(request_id))

    def create_flex_request(
        self, name: str, body: Mapping[str, Any], request_id: str | None = None
    ) -> Operation:
        return compute_capacity.create_flex_request(self, name, body, self._rid(request_id))


def _covers(locations: Sequence[str], zone: str) -> bool:
    return "-" in locations or zone in locations
