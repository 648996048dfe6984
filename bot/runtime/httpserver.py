"""The bot's production HTTP server: waitress, with limits, timeouts and a graceful stop.

Waitress reads requests on one event loop (an idle or half-open connection costs a socket, not a
thread) and runs the app on a small thread pool, which suits a threaded app whose handlers ack at
once. `close(timeout)` stops accepting, lets requests in flight finish, then closes what is left.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """What one connection and the whole server may take (see `bot.config.Environment`)."""

    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: float = 65.0
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 32 * 1024

    def adjustments(self) -> dict[str, Any]:
        """Waitress' own settings for these limits."""
        timeout = max(1, round(self.channel_timeout))
        return {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            # Idle keep-alive and half-sent requests alike are closed after this many seconds...
            "channel_timeout": timeout,
            # ...checked this often (waitress' default of 30 s would let them linger).
            "cleanup_interval": max(1, min(30, timeout // 2)),
            "max_request_body_size": self.max_body_bytes,
            "max_request_header_size": self.max_header_bytes,
            # poll(), not select(): select() cannot watch more than 1024 sockets.
            "asyncore_use_poll": True,
            "ident": "tpu-bot",
            "clear_untrusted_proxy_headers": True,
        }


class RunningServer:
    """A waitress server on its own event-loop thread."""

    def __init__(self, server: BaseWSGIServer, name: str) -> None:
        self.server = server
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._listening = True
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return str(self.server.effective_host)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _loop(self) -> None:
        """The event loop; between rounds, applies a stop that `close` asked for."""
        server, socket_map = self.server, self.server._map
        while not self._stop.is_set():
            closing = self._closing.is_set()
            if closing:
                self._shed(server)
            wasyncore.loop(timeout=0.1 if closing else 1.0, map=socket_map, use_poll=True, count=1)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(socket_map)

    def _shed(self, server: BaseWSGIServer) -> None:
        """Stop listening, and close every connection that has no request in progress."""
        if self._listening:
            self._listening = False
            wasyncore.dispatcher.close(server)  # the listening socket only, not the trigger
        for channel in list(server.active_channels.values()):
            if not channel.requests and not channel.total_outbufs_len:
                channel.will_close = True

    def queue_depth(self) -> int:
        """Requests read and waiting for one of the server's threads."""
        return len(self.server.task_dispatcher.queue)

    def in_flight(self) -> int:
        """Connections still open (with a request in progress, once closing)."""
        return len(self.server.active_channels)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking requests, finish those in flight within `timeout`; True if all did."""
        self._closing.set()
        self.server.pull_trigger()
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while self.in_flight() and time.monotonic() < deadline:
            pause.wait(0.02)
        drained = not self.in_flight()
        if not drained:
            log.warning("http: %d request(s) still in flight at shutdown", self.in_flight())
        self._stop.set()
        self._wake()
        self.thread.join(timeout=5)
        return drained

    def _wake(self) -> None:
        """Wake the event loop now rather than at its next poll. Once told to stop it may have
        closed its trigger already (it polls every 0.1 s while closing): then there is no one
        left to wake."""
        with contextlib.suppress(OSError):
            self.server.pull_trigger()


def serve_in_thread(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "wsgi",
    limits: ServerLimits | None = None,
) -> RunningServer:
    """Start serving `app`; port 0 picks a free port (read it from the result). A port in use
    raises OSError here, before anything runs."""
    adjustments = (limits or ServerLimits()).adjustments()
    # Waitress logs a warning for every request that has to wait for a thread: under a burst,
    # a log line per request, written on the event loop that reads the next ones. The depth is
    # a metric instead (`queue_depth`, tpubot_http_queue_depth).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(app, host=host, port=port, **adjustments)
    if not isinstance(server, BaseWSGIServer):  # a name that resolves to several addresses
        server.close()
        raise OSError(errno.EADDRNOTAVAIL, f"{host} is more than one address; give an IP")
    return RunningServer(server, name)
