"""The Socket Mode side of localslack: hands each envelope to one connected client and waits
for its ack, as Slack does (up to 10 connections, one of them chosen for each envelope)."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from localslack.base import APP_ID, Json


@dataclass
class Delivery:
    """How the bot answered a request: HTTP status and body (or the Socket Mode ack payload)."""

    status: int
    body: str
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip().startswith("{") else None


class SocketModeHub:
    """The Socket Mode side: hands each envelope to one connected client and waits for its ack."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, tuple[threading.Event, list[Any]]] = {}
        self._round_robin = itertools.count()
        self.connected = threading.Condition(self._lock)

    def handler(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": APP_ID},
                    "debug_info": {"host": "localslack"},
                }
            )
        )
        with self._lock:
            self._connections.append(connection)
            self.connected.notify_all()
        try:
            for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
                with self._lock:
                    waiter = self._acks.pop(envelope_id, None) if envelope_id else None
                if waiter is not None:
                    waiter[1].append(message.get("payload"))
                    waiter[0].set()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._connections)

    def wait_for_client(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.connected:
            while not self._connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no Socket Mode client connected")
                self.connected.wait(remaining)

    def deliver(self, kind: str, payload: Json, timeout: float = 3.0) -> Delivery:
        envelope_id = secrets.token_hex(8)
        event = threading.Event()
        box: list[Any] = []
        with self._lock:
            if not self._connections:
                raise ConnectionError("no Socket Mode client connected")
            connection = self._connections[next(self._round_robin) % len(self._connections)]
            self._acks[envelope_id] = (event, box)
        started = time.monotonic()
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        acked = event.wait(timeout)
        seconds = time.monotonic() - started
        if not acked:
            with self._lock:
                self._acks.pop(envelope_id, None)
            return Delivery(0, "", seconds)
        return Delivery(200, json.dumps(box[0] or {}), seconds)
