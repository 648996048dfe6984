"""The floor for Socket Mode acks: slack_sdk's built-in Socket Mode client (the one Bolt's
SocketModeHandler runs, with the same 10 threads) acking every envelope at once.

Run (the ack bench starts it): SLACK_APP_TOKEN=... SLACK_API_URL=... \
    .venv/bin/python bench/ack_bare_socket.py
Prints `bare socket connected` once connected; stops on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading

from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse


def main() -> None:
    client = SocketModeClient(
        app_token=os.environ["SLACK_APP_TOKEN"],
        web_client=WebClient(base_url=os.environ["SLACK_API_URL"]),
        concurrency=10,
    )

    def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client.socket_mode_request_listeners.append(ack)  # type: ignore[arg-type]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    client.connect()
    print("bare socket connected", flush=True)
    stop.wait()
    client.close()


if __name__ == "__main__":
    main()
