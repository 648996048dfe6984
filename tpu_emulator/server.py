"""The emulator's HTTP face: the v1alpha1 REST paths of the discovery document, and an admin API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from tpu_emulator.http import RunningServer, serve_in_thread
from tpu_emulator.state import ApiError, Emulator, Json

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# Parameters every Google API method accepts (the discovery document's "parameters").
SYSTEM_PARAMS = frozenset(
    {
        "$.xgafv",
        "access_token",
        "alt",
        "callback",
        "fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "quotaUser",
        "upload_protocol",
        "uploadType",
    }
)
_LOC = r"projects/[^/]+/locations/[^/]+"


@dataclass(frozen=True)
class Route:
    http: str
    pattern: re.Pattern[str]
    method_id: str
    params: frozenset[str]
    call: Callable[[Emulator, str, dict[str, str], Json], Json]


def _int(params: dict[str, str], key: str) -> int | None:
    if key not in params:
        return None
    try:
        return int(params[key])
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"Invalid value at '{key}' (TYPE_INT32)") from None


def _route(http: str, pattern: str, method_id: str, params: Iterable[str], call: Any) -> Route:
    return Route(http, re.compile(f"^{pattern}$"), method_id, frozenset(params), call)


LIST = ("pageSize", "pageToken")
ROUTES = [
    _route(
        "GET",
        r"projects/[^/]+/locations",
        "locations.list",
        ("filter", "extraLocationTypes", *LIST),
        lambda e, n, q, b: e.list_locations(
            n.rsplit("/locations", 1)[0], _int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    _route("GET", _LOC, "locations.get", (), lambda e, n, q, b: e.get_location(n)),
    _route(
        "GET",
        f"{_LOC}/nodes",
        "nodes.list",
        LIST,
        lambda e, n, q, b: e.list_nodes(
            n.rsplit("/nodes", 1)[0], _int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    _route(
        "POST",
        f"{_LOC}/nodes",
        "nodes.create",
        ("nodeId", "requestId"),
        lambda e, n, q, b: e.create_node(
            n.rsplit("/nodes", 1)[0], q.get("nodeId"), q.get("requestId"), b
        ),
    ),
    _route("GET", f"{_LOC}/nodes/[^/:]+", "nodes.get", (), lambda e, n, q, b: e.get_node(n)),
    _route(
        "DELETE",
        f"{_LOC}/nodes/[^/:]+",
        "nodes.delete",
        ("requestId",),
        lambda e, n, q, b: e.delete_node(n, q.get("requestId")),
    ),
    _route(
        "POST",
        f"{_LOC}/nodes/[^/:]+:stop",
        "nodes.stop",
        (),
        lambda e, n, q, b: e.stop_node(n.rsplit(":", 1)[0]),
    ),
    _route(
        "POST",
        f"{_LOC}/nodes/[^/:]+:start",
        "nodes.start",
        (),
        lambda e, n, q, b: e.start_node(n.rsplit(":", 1)[0]),
    ),
    _route(
        "POST",
        f"{_LOC}/nodes/[^/:]+:reimage",
        "nodes.reimage",
        (),
        lambda e, n, q, b: e.reimage_node(n.rsplit(":", 1)[0], b),
    ),
    _route(
        "GET",
        f"{_LOC}/operations",
        "operations.list",
        ("filter", "returnPartialSuccess", *LIST),
        lambda e, n, q, b: e.list_operations(
            n.rsplit("/operations", 1)[0], _int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    _route(
        "GET",
        f"{_LOC}/operations/[^/:]+",
        "operations.get",
        (),
        lambda e, n, q, b: e.get_operation(n),
    ),
    _route(
        "DELETE",
        f"{_LOC}/operations/[^/:]+",
        "operations.delete",
        (),
        lambda e, n, q, b: e.delete_operation(n),
    ),
    _route(
        "POST",
        f"{_LOC}/operations/[^/:]+:cancel",
        "operations.cancel",
        (),
        lambda e, n, q, b: e.cancel_operation(n.rsplit(":", 1)[0]),
    ),
    _route(
        "GET",
        f"{_LOC}/acceleratorTypes",
        "acceleratorTypes.list",
        ("filter", "orderBy", *LIST),
        lambda e, n, q, b: e.list_accelerator_types(
            n.rsplit("/", 1)[0], _int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    _route(
        "GET",
        f"{_LOC}/acceleratorTypes/[^/]+",
        "acceleratorTypes.get",
        (),
        lambda e, n, q, b: e.get_accelerator_type(n),
    ),
    _route(
        "GET",
        f"{_LOC}/tensorflowVersions",
        "tensorflowVersions.list",
        ("filter", "orderBy", *LIST),
        lambda e, n, q, b: e.list_tensorflow_versions(
            n.rsplit("/", 1)[0], _int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    _route(
        "GET",
        f"{_LOC}/tensorflowVersions/[^/]+",
        "tensorflowVersions.get",
        (),
        lambda e, n, q, b: e.get_tensorflow_version(n),
    ),
]


class EmulatorApp:
    """WSGI application: `/v1alpha1/...` as Google serves it, `/emulator/v1/...` for tests."""

    def __init__(self, emulator: Emulator, sleep: Callable[[float], None] = time.sleep) -> None:
        self.emulator = emulator
        self._sleep = sleep

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = unquote(environ.get("PATH_INFO", ""))
        http = environ["REQUEST_METHOD"]
        try:
            if path.startswith("/v1alpha1/"):
                status, body = self._api(http, path[len("/v1alpha1/") :], environ)
            elif path.startswith("/emulator/v1/"):
                status, body = self._admin(http, path[len("/emulator/v1/") :], environ)
            else:
                raise ApiError("NOT_FOUND", f"The requested URL {path} was not found.")
        except ApiError as exc:
            status, body = exc.http, exc.to_json()
        payload = json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [
                ("Content-Type", "application/json; charset=UTF-8"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

    @staticmethod
    def _read_json(environ: dict[str, Any]) -> Json:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received: not an object.")
        return body

    def _api(self, http: str, name: str, environ: dict[str, Any]) -> tuple[int, Json]:
        latency = self.emulator.faults.latency_ms
        if latency:
            self._sleep(latency / 1000)
        matched = [r for r in ROUTES if r.pattern.match(name)]
        if not matched:
            raise ApiError("NOT_FOUND", f"The requested URL /v1alpha1/{name} was not found.")
        route = next((r for r in matched if r.http == http), None)
        if route is None:
            raise ApiError("UNIMPLEMENTED", f"Method {http} is not allowed here.", http=405)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        unknown = set(query) - route.params - SYSTEM_PARAMS
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT",
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": '
                "Cannot bind query parameter.",
            )
        body = self._read_json(environ) if http == "POST" else {}
        lost = self.emulator.gate(route.method_id, name)
        result = route.call(self.emulator, name, query, body)
        if lost is not None:
            raise lost
        return 200, result

    def _admin(self, http: str, path: str, environ: dict[str, Any]) -> tuple[int, Json]:
        emulator = self.emulator
        if path == "faults" and http == "GET":
            return 200, emulator.faults.to_json()
        if path == "faults" and http == "POST":
            return 200, emulator.set_faults(self._read_json(environ))
        if path == "stats" and http == "GET":
            return 200, emulator.stats_json()
        if path == "reset" and http == "POST":
            emulator.reset()
            return 200, {}
        if path == "inject" and http == "POST":
            body = self._read_json(environ)
            names = body.pop("names", None)
            if not isinstance(names, list):
                raise ApiError("INVALID_ARGUMENT", "names: a list of node names is required")
            return 200, {"nodes": [emulator.inject(str(n), body) for n in names]}
        if path.endswith(":inject") and http == "POST":
            return 200, emulator.inject(path[: -len(":inject")], self._read_json(environ))
        raise ApiError("NOT_FOUND", f"No admin method {http} /emulator/v1/{path}")


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve the emulator in a background thread; port 0 picks a free port."""
    return serve_in_thread(EmulatorApp(emulator), host, port, name="tpu-emulator")
