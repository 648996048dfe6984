"""The emulator's HTTP face: the Cloud TPU API's v1alpha1, v1 and v2 REST paths and Cloud
Monitoring's v3 ones, as the discovery documents describe them, one fleet behind all, and an
admin API beside them (never inside them)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from tpu_emulator import routes_v1, routes_v1alpha1, routes_v2, routes_v3
from tpu_emulator.compute import api as compute_api
from tpu_emulator.errors import TPU_DOMAIN, ApiError, Json
from tpu_emulator.http import RunningServer, serve_in_thread
from tpu_emulator.routes import SYSTEM_PARAMS, Route
from tpu_emulator.routes_v3 import REPEATED
from tpu_emulator.state import Emulator

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# URL prefix -> that version's routes.
VERSIONS: dict[str, list[Route]] = {
    "v1alpha1": routes_v1alpha1.ROUTES,
    "v1": routes_v1.ROUTES,
    "v2": routes_v2.ROUTES,
    "v3": routes_v3.ROUTES,
}
# The ErrorInfo domain of each prefix's service (Cloud TPU unless listed).
DOMAINS = {"v3": "monitoring.googleapis.com"}


class EmulatorApp:
    """WSGI application: `/v1alpha1/...` and `/v2/...` as Google serves them, `/emulator/v1/...`
    for tests."""

    def __init__(self, emulator: Emulator, sleep: Callable[[float], None] = time.sleep) -> None:
        self.emulator = emulator
        self._sleep = sleep

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = unquote(environ.get("PATH_INFO", ""))
        http = environ["REQUEST_METHOD"]
        version = path.split("/", 2)[1] if path.count("/") >= 2 else ""
        try:
            if path.startswith(compute_api.PREFIX):
                status, body = compute_api.handle(self.emulator, http, path, environ, self._sleep)
            elif version in VERSIONS:
                status, body = self._api(version, http, path[len(version) + 2 :], environ)
            elif path.startswith("/emulator/v1/"):
                status, body = self._admin(http, path[len("/emulator/v1/") :], environ)
            else:
                raise ApiError("NOT_FOUND", f"The requested URL {path} was not found.")
        except ApiError as exc:
            status, body = exc.http, exc.to_json(DOMAINS.get(version, TPU_DOMAIN))
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

    def _api(self, version: str, http: str, name: str, environ: dict[str, Any]) -> tuple[int, Json]:
        latency = self.emulator.faults.latency_ms
        if latency:
            self._sleep(latency / 1000)
        matched = [r for r in VERSIONS[version] if r.pattern.match(name)]
        if not matched:
            raise ApiError("NOT_FOUND", f"The requested URL /{version}/{name} was not found.")
        route = next((r for r in matched if r.http == http), None)
        if route is None:
            raise ApiError("UNIMPLEMENTED", f"Method {http} is not allowed here.", http=405)
        # A repeated parameter (groupByFields) arrives once per value: its values are joined
        # with commas (field paths hold none); any other repeated parameter: the last wins.
        query = {
            k: ",".join(v) if k in REPEATED else v[-1]
            for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()
        }
        unknown = set(query) - route.params - SYSTEM_PARAMS
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT",
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": '
                "Cannot bind query parameter.",
                field=sorted(unknown)[0],
            )
        body = self._read_json(environ) if http in ("POST", "PATCH") else {}
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
