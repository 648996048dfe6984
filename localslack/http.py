"""localslack's HTTP server: waitress on a thread of its own. No access log: the workspace
records every call itself."""

from __future__ import annotations

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
        self._loop = threading.Thread(target=self._waitress.run, name=name, daemon=True)
        self._loop.start()

    def close(self) -> None:
        """Every socket is closed by the loop itself, which then returns; then the workers stop."""
        if self._loop.is_alive():
            self._waitress.trigger.pull_trigger(lambda: wasyncore.close_all(self._waitress._map))
            self._loop.join(timeout=10)
            self._waitress.task_dispatcher.shutdown()


def serve_in_thread(app: Any, host: str, port: int, name: str) -> RunningServer:
    return RunningServer(app, host, port, name)
