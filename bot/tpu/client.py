"""TpuClient: the Cloud TPU API (v1alpha1) over google-api-python-client, returning our models.

The API version lives here and in `emulator/` only. httplib2 is not thread-safe, so every request
gets a fresh authorized Http with a timeout; retries are the library's own (`num_retries`: 429,
5xx and connection errors, exponential backoff), never on other 4xx.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import google.auth
import google_auth_httplib2
import httplib2
from google.auth import impersonated_credentials
from google.auth.credentials import AnonymousCredentials, Credentials
from googleapiclient import discovery
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from bot.core import noderef
from bot.core.models import (
    AcceleratorType,
    Location,
    Node,
    NodeListing,
    NodeSpec,
    Operation,
    ProjectScope,
    TensorFlowVersion,
)
from bot.tpu.wire import node_body, node_from_api, operation_from_api
from bot.usecases.ports import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TpuError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

API_NAME, API_VERSION = "tpu", "v1alpha1"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Called with (method id, outcome) after every API call: metrics hook.
CallObserver = Callable[[str, str], None]


_BY_STATUS: dict[str, type[TpuError]] = {
    cls.status: cls
    for cls in (
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        FailedPrecondition,
        InvalidArgument,
        ResourceExhausted,
        Unavailable,
    )
}
_BY_HTTP: dict[int, type[TpuError]] = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
    429: ResourceExhausted,
    503: Unavailable,
}


def error_from_http(exc: HttpError) -> TpuError:
    """Google's JSON error -> our typed error, keeping its message."""
    status_code = int(exc.resp.status)
    message, status = str(exc), ""
    try:
        payload = json.loads(exc.content.decode("utf-8"))
        error = payload.get("error", {})
        message = str(error.get("message") or message)
        status = str(error.get("status") or "")
    except (ValueError, AttributeError):
        pass
    cls = _BY_STATUS.get(status) or _BY_HTTP.get(status_code, TpuError)
    if status == "ABORTED" or (status_code == 409 and status not in ("", "ALREADY_EXISTS")):
        cls = TpuError
    return cls(message, http=status_code, status=status or cls.status)


def make_credentials(
    endpoint: str,
    *,
    impersonate: str | None = None,
    credentials_file: str | None = None,
) -> Credentials:
    """ADC (or a key file), optionally impersonating a service account; anonymous for http://."""
    if endpoint.startswith("http://"):
        return AnonymousCredentials()
    if credentials_file:
        source, _ = google.auth.load_credentials_from_file(credentials_file, scopes=SCOPES)
    else:
        source, _ = google.auth.default(scopes=SCOPES)
    if impersonate:
        return impersonated_credentials.Credentials(
            source_credentials=source, target_principal=impersonate, target_scopes=list(SCOPES)
        )
    return source


class TpuClient:
    """Thread-safe client for the Cloud TPU API. Build once; share between threads."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        observer: CallObserver | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._credentials = credentials or make_credentials(self.endpoint)
        self.timeout = timeout
        self.retries = retries
        self.page_size = page_size
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._new_request_id = request_id
        self._observer = observer
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        # Static discovery: the document shipped with googleapiclient, no network at build time.
        # The Http given here is never used: every execute() gets its own.
        self._service: Any = discovery.build(
            API_NAME,
            API_VERSION,
            static_discovery=True,
            http=httplib2.Http(timeout=timeout),
            client_options={"api_endpoint": self.endpoint},
            requestBuilder=self._request,
            cache_discovery=False,
        )

    # ----- plumbing --------------------------------------------------------------------------

    def _jitter(self) -> float:
        with self._rng_lock:
            return self._rng.random() * self._backoff

    def _request(self, *args: Any, **kwargs: Any) -> HttpRequest:
        request = HttpRequest(*args, **kwargs)
        # The library's retry loop sleeps rand() * 2**attempt; these hooks scale and inject it.
        request._sleep = self._sleep
        request._rand = self._jitter
        return request

    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        return google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=httplib2.Http(timeout=self.timeout)
        )

    def _execute(self, method: str, request: HttpRequest) -> dict[str, Any]:
        outcome = "ok"
        try:
            result = request.execute(http=self._http(), num_retries=self.retries)
            return result or {}
        except HttpError as exc:
            error = error_from_http(exc)
            outcome = error.status
            raise error from None
        except (OSError, httplib2.HttpLib2Error) as exc:
            outcome = "UNAVAILABLE"
            raise Unavailable(
                f"TPU API at {self.endpoint} unreachable: {exc.__class__.__name__}: {exc}"
            ) from None
        finally:
            if self._observer is not None:
                self._observer(method, outcome)

    def _pages(self, method: str, collection: Any, request: HttpRequest) -> Iterator[dict]:
        while request is not None:
            response = self._execute(method, request)
            yield response
            request = collection.list_next(request, response)

    @property
    def _locations(self) -> Any:
        return self._service.projects().locations()

    @property
    def _nodes(self) -> Any:
        return self._locations.nodes()

    @property
    def _operations(self) -> Any:
        return self._locations.operations()

    # ----- nodes -----------------------------------------------------------------------------

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing:
        """Every node of a project in the given zones (`-` = all, one paginated call).

        A zone that cannot be answered ends up in `unreachable` instead of failing the listing.
        """
        nodes: list[Node] = []
        unreachable: list[str] = []
        for location in locations:
            parent = f"projects/{project}/locations/{location}"
            collection = self._nodes
            request = collection.list(parent=parent, pageSize=self.page_size)
            try:
                for page in self._pages("nodes.list", collection, request):
                    nodes.extend(node_from_api(item) for item in page.get("nodes", []))
                    unreachable.extend(page.get("unreachable", []))
            except Unavailable:
                if location == "-":
                    raise
                unreachable.append(parent)
        return NodeListing(nodes=tuple(nodes), unreachable=tuple(dict.fromkeys(unreachable)))

    def get_node(self, name: str) -> Node:
        return node_from_api(self._execute("nodes.get", self._nodes.get(name=name)))

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str | None = None
    ) -> Operation:
        request = self._nodes.create(
            parent=f"projects/{project}/locations/{zone}",
            nodeId=node_id,
            requestId=request_id or self._new_request_id(),
            body=node_body(spec),
        )
        return operation_from_api(self._execute("nodes.create", request))

    def delete_node(self, name: str, request_id: str | None = None) -> Operation:
        request = self._nodes.delete(name=name, requestId=request_id or self._new_request_id())
        return operation_from_api(self._execute("nodes.delete", request))

    # v1alpha1 gives stop/start/reimage no requestId; a retried duplicate is refused by the
    # service (an operation is already running on the node), never applied twice.
    def stop_node(self, name: str) -> Operation:
        return operation_from_api(self._execute("nodes.stop", self._nodes.stop(name=name, body={})))

    def start_node(self, name: str) -> Operation:
        request = self._nodes.start(name=name, body={})
        return operation_from_api(self._execute("nodes.start", request))

    def reimage_node(self, name: str, tensorflow_version: str) -> Operation:
        request = self._nodes.reimage(name=name, body={"tensorflowVersion": tensorflow_version})
        return operation_from_api(self._execute("nodes.reimage", request))

    # ----- operations ------------------------------------------------------------------------

    def get_operation(self, name: str) -> Operation:
        return operation_from_api(self._execute("operations.get", self._operations.get(name=name)))

    def list_operations(self, project: str, location: str = "-") -> list[Operation]:
        collection = self._operations
        request = collection.list(
            name=f"projects/{project}/locations/{location}", pageSize=self.page_size
        )
        return [
            operation_from_api(item)
            for page in self._pages("operations.list", collection, request)
            for item in page.get("operations", [])
        ]

    def cancel_operation(self, name: str) -> None:
        self._execute("operations.cancel", self._operations.cancel(name=name))

    # ----- catalog ---------------------------------------------------------------------------

    def list_locations(self, project: str) -> list[Location]:
        collection = self._locations
        request = collection.list(name=f"projects/{project}", pageSize=self.page_size)
        return [
            Location(
                name=item["name"],
                location_id=item.get("locationId", ""),
                display_name=item.get("displayName", ""),
            )
            for page in self._pages("locations.list", collection, request)
            for item in page.get("locations", [])
        ]

    def list_accelerator_types(self, project: str, zone: str) -> list[AcceleratorType]:
        collection = self._locations.acceleratorTypes()
        request = collection.list(parent=f"projects/{project}/locations/{zone}")
        return [
            AcceleratorType(name=item["name"], type=item.get("type", ""))
            for page in self._pages("acceleratorTypes.list", collection, request)
            for item in page.get("acceleratorTypes", [])
        ]

    def list_tensorflow_versions(self, project: str, zone: str) -> list[TensorFlowVersion]:
        collection = self._locations.tensorflowVersions()
        request = collection.list(parent=f"projects/{project}/locations/{zone}")
        return [
            TensorFlowVersion(name=item["name"], version=item.get("version", ""))
            for page in self._pages("tensorflowVersions.list", collection, request)
            for item in page.get("tensorflowVersions", [])
        ]

    # ----- references ------------------------------------------------------------------------

    def resolve(self, text: str, scopes: Sequence[ProjectScope]) -> Node:
        """What a person typed -> the one node it names, among the projects the bot manages."""
        ref = noderef.parse_ref(text)
        managed = {scope.project: scope for scope in scopes}
        if ref.project is not None and ref.project not in managed:
            raise noderef.UnknownNode(
                f"Project `{ref.project}` is not one this bot manages "
                f"({', '.join(sorted(managed))})."
            )
        qualified = ref.qualified
        if qualified is not None:
            try:
                return self.get_node(qualified.full)
            except NotFound:
                pass  # fall through to a listing, which can suggest what was meant
        candidates: list[Node] = []
        partial = False
        for scope in scopes:
            if ref.project is not None and scope.project != ref.project:
                continue
            listing = self.list_nodes(scope.project, scope.locations)
            candidates.extend(listing.nodes)
            partial = partial or not listing.complete
        return noderef.resolve(ref, candidates, partial=partial)
