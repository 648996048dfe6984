"""localslack's HTTP server: waitress on a thread of its own. No access log: the workspace
records every call itself."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

_QUIET = logging.getLogger("localslack.http.queue")  # waiting for a worker is not a warning here
_QUIET.setLevel(logging.ERROR)


class RunningServer:
    """Serving from the start; `url` tells where (port 0 picks a free port)."""

    def __init__(self, app: Any, host: str, port: int, name: str) -> None:
        # Workers and connections for bursts of 200 clients at once (the benches).
        self._waitress = create_server(
            app, host=host, port=port, threads=16, connection_limit=1000, asyncore_use_poll=True
        )
        self._waitress.task_dispatcher.queue_logger = _QUIET
        self.host = str(self._waitress.effective_host)
        self.port = int(self._waitress.effective_port)
        self.url = f"http://{self.host}:{self.port}"
        self._closing = threading.Event()
        self._loop = threading.Thread(target=self._serve, name=name, daemon=True)
        self._loop.start()

    def _serve(self) -> None:
        channels = self._waitress._map
        while channels and not self._closing.is_set():
            wasyncore.loop(0.5, True, channels, 1)
        wasyncore.close_all(channels)  # by the thread that polls them, never across threads

    def close(self) -> None:
        """Stop the loop (a pull of its trigger wakes it, else its timeout), then the workers."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._waitress.pull_trigger()
        self._loop.join(timeout=10)
        self._waitress.task_dispatcher.shutdown()


def serve_in_thread(app: Any, host: str, port: int, name: str) -> RunningServer:
    return RunningServer(app, host, port, name)
