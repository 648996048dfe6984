"""Compute Engine's HTTP face at `/compute/v1/` (the real service path): a request is matched
to its discovery method, its query parameters and body are checked against compute.v1.json,
counted and gated like the TPU API's (faults, latency), answered by the handler, and errors
come back in Compute's own JSON shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tpu_emulator.compute import discovery
from tpu_emulator.compute.discovery import Method
from tpu_emulator.compute.errors import ComputeError, error_body, invalid_payload
from tpu_emulator.compute.routes import HANDLERS
from tpu_emulator.errors import ApiError

Json = dict[str, Any]
PREFIX = "/compute/v1/"
# Not in rev 20261106 of compute.v1.json, yet Compute's own descriptions recommend it and
# older clients send it on every list: accepted on lists and aggregated lists.
PARTIAL = "returnPartialSuccess"
# Declared parameters whose meaning the emulator does not implement: refused, never ignored.
UNSUPPORTED = frozenset({"sourceInstanceTemplate", "sourceMachineImage"})


def handle(
    emulator: Any, http: str, path: str, environ: dict[str, Any], sleep: Callable[[float], None]
) -> tuple[int, Json]:
    """(HTTP status, JSON body) for one request under PREFIX."""
    try:
        return 200, _call(emulator, http, path[len(PREFIX) :], environ, sleep)
    except ApiError as exc:
        return exc.http, error_body(exc)


def _call(
    emulator: Any, http: str, rest: str, environ: dict[str, Any], sleep: Callable[[float], None]
) -> Json:
    latency = emulator.faults.latency_ms
    if latency:
        sleep(latency / 1000)
    method, params = _match(http, rest)
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    _check_query(method, query)
    body: Json = {}
    if method.request is not None:
        body = _read_body(environ)
        discovery.check_body(method.request, body, method.request[0].lower() + method.request[1:])
    handler = HANDLERS.get(method.id)
    if handler is None:
        raise ComputeError(
            501, "notImplemented", f"{method.id} is not implemented by the emulator."
        )
    lost = _gate(emulator, method.id, rest)
    result = handler(emulator.compute, params, query, body)
    if lost is not None:
        raise lost
    return result


def _match(http: str, rest: str) -> tuple[Method, dict[str, str]]:
    other_verb = False
    for method in discovery.methods():
        found = method.pattern.match(rest)
        if found is None:
            continue
        if method.http != http:
            other_verb = True
            continue
        params = found.groupdict()
        for name, value in params.items():
            pattern = method.path_params[name].get("pattern")
            if pattern and not re.fullmatch(pattern.strip("^$"), value):
                raise ComputeError(400, "invalid", f"Invalid value for field '{name}': '{value}'.")
        return method, params
    if other_verb:
        raise ComputeError(405, "httpMethodNotAllowed", f"Method {http} is not allowed here.")
    raise ComputeError(404, "notFound", f"The requested URL {PREFIX}{rest} was not found.")


def _check_query(method: Method, query: dict[str, str]) -> None:
    allowed = set(method.query) | discovery.system_params()
    if method.id.endswith(("List", ".list")):
        allowed.add(PARTIAL)
    for name, value in query.items():
        if name in UNSUPPORTED:
            raise ComputeError(
                501, "notImplemented", f"{method.id}: '{name}' is not implemented by the emulator."
            )
        if name not in allowed:
            raise invalid_payload(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message."
            )
        spec = method.query.get(name, {"type": "boolean"} if name == PARTIAL else {})
        _check_value(name, value, spec)


def _check_value(name: str, value: str, spec: Json) -> None:
    kind = spec.get("type")
    if kind == "integer":
        if not value.isdigit() or int(value) < int(spec.get("minimum", 0)):
            raise ComputeError(400, "invalid", f"Invalid value for field '{name}': '{value}'.")
    elif (kind == "boolean" and value not in ("true", "false")) or (
        "enum" in spec and value not in spec["enum"]
    ):
        raise ComputeError(400, "invalid", f"Invalid value for field '{name}': '{value}'.")


def _read_body(environ: dict[str, Any]) -> Json:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ComputeError(400, "parseError", "Parse Error") from None
    if not isinstance(body, dict):
        raise ComputeError(400, "parseError", "Parse Error: the body is not a JSON object.")
    return body


def _gate(emulator: Any, method_id: str, resource: str) -> ApiError | None:
    """Count the call and apply injected faults (the TPU API's gate), in Compute's words."""
    try:
        return emulator.gate(method_id, resource)
    except ApiError as exc:
        if exc.status != "PERMISSION_DENIED":
            raise
        project = resource.split("/")[1]
        permission = "compute." + method_id.split(".", 1)[1]
        raise ComputeError(
            403, "forbidden", f"Required '{permission}' permission for 'projects/{project}'"
        ) from None
