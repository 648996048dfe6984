"""localslack's Web API and response_url over HTTP (WSGI): `/api/{method}`, `/response/{token}`;
`extra` serves the rest (the demo page)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from localslack.base import Json, SlackError
from localslack.workspace import Workspace

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _json_response(
    start_response: StartResponse,
    status: int,
    body: Json,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(payload))),
            *(headers or []),
        ],
    )
    return [payload]


class SlackWebApp:
    """WSGI: `/api/{method}`, `/response/{token}`; `extra` serves the rest (the demo page)."""

    def __init__(self, workspace: Workspace, extra: Any = None) -> None:
        self.workspace = workspace
        self.extra = extra

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/"):
            return self._api(path[len("/api/") :], environ, start_response)
        if path.startswith("/response/") and environ["REQUEST_METHOD"] == "POST":
            return self._post_response(path[len("/response/") :], environ, start_response)
        if self.extra is not None:
            return self.extra(environ, start_response)
        return _json_response(start_response, 404, {"ok": False, "error": "not_found"})

    @staticmethod
    def _body(environ: dict[str, Any]) -> tuple[bytes, str]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b"", environ.get(
            "CONTENT_TYPE", ""
        )

    def _api(
        self, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        raw, content_type = self._body(environ)
        args: Json = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if raw:
            if "json" in content_type:
                try:
                    args.update(json.loads(raw))
                except ValueError:
                    return _json_response(
                        start_response, 200, {"ok": False, "error": "invalid_json"}
                    )
            else:
                args.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        token = None
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        token = token or args.pop("token", None)
        try:
            return _json_response(start_response, 200, self.workspace.call(method, token, args))
        except SlackError as exc:
            headers = [("Retry-After", str(exc.retry_after))] if exc.retry_after else []
            body = {"ok": False, "error": exc.error, **exc.extra}
            return _json_response(start_response, exc.status, body, headers)

    def _post_response(
        self, token: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        raw, _ = self._body(environ)
        try:
            self.workspace.respond(token, json.loads(raw or b"{}"))
        except SlackError as exc:
            return _json_response(
                start_response,
                exc.status if exc.status != 200 else 400,
                {"ok": False, "error": exc.error},
            )
        except ValueError:
            return _json_response(start_response, 400, {"ok": False, "error": "invalid_json"})
        return _json_response(start_response, 200, {"ok": True})
