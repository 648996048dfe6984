"""The emulator's HTTP server: waitress, run on a thread of its own or by `tpu-bot emulator`.

No access log: the emulator counts requests in its stats instead. One request per connection,
as before waitress: the bot builds an Http per call and never closes it, so a kept-alive
connection would stay open (and warn) until the garbage collector finds it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

# A burst waits for a worker by design (the benches send 200 at once): no warning for that.
_QUEUE_LOG = logging.getLogger(__name__ + ".queue")
_QUEUE_LOG.setLevel(logging.ERROR)


class _ClosingTask(WSGITask):
    def build_response_header(self) -> bytes:
        self.set_close_on_finish()  # "Connection: close", then close once written
        return bytes(super().build_response_header())


class _Channel(HTTPChannel):
    task_class = _ClosingTask


class RunningServer:
    """A waitress server with the socketserver verbs `tpu-bot emulator` uses; `url` tells where
    (port 0 picks a free port)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        # The benches send bursts of 200 requests: enough workers, connections and backlog.
        self.server = create_server(
            app, host=host, port=port, threads=16, connection_limit=1000, asyncore_use_poll=True
        )
        self.server.channel_class = _Channel
        self.server.task_dispatcher.queue_logger = _QUEUE_LOG
        self.server_address = (str(self.server.effective_host), int(self.server.effective_port))
        self._stop = threading.Event()
        self._served = threading.Event()

    @property
    def host(self) -> str:
        return self.server_address[0]

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until `shutdown()`, then close every socket from this same thread (the loop's
        sockets are never closed across threads)."""
        sockets = self.server._map
        try:
            while sockets and not self._stop.is_set():
                wasyncore.loop(timeout=0.5, map=sockets, use_poll=True, count=1)
            wasyncore.close_all(sockets)
        finally:
            self._served.set()

    def shutdown(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # the trigger may be gone: the loop wakes anyway
            self.server.pull_trigger()
        self._served.wait(10)

    def server_close(self) -> None:
        self.server.task_dispatcher.shutdown()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def make_wsgi_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Bound and listening, not yet serving: call `serve_forever()`."""
    return RunningServer(app, host, port)


def serve_in_thread(app: Any, host: str, port: int, name: str) -> RunningServer:
    server = RunningServer(app, host, port)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
