"""The TPU API emulator's admin side over HTTP (inject, faults, stats, reset)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tpu_emulator.http import RunningServer


def admin(server: RunningServer, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the emulator's admin API over HTTP."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server.url}/emulator/v1/{path}",
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
