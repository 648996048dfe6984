"""The floor for ack latency: a bare WSGI app on waitress, with the bot's server settings and
threads, that reads the body, verifies Slack's signature with slack_sdk and answers 200.

Run (the ack bench starts it): .venv/bin/python bench/ack_bare.py [--threads 8]
Prints `bare on http://HOST:PORT` once listening; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slack_sdk.signature import SignatureVerifier

from bot.runtime.httpserver import ServerLimits, serve_in_thread

SECRET_VARIABLE = "SLACK_SIGNING_SECRET"


def bare_app(secret: str) -> Any:
    verifier = SignatureVerifier(secret)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        ok = verifier.is_valid(
            body=body,
            timestamp=environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
            signature=environ.get("HTTP_X_SLACK_SIGNATURE", ""),
        )
        start_response("200 OK" if ok else "401 Unauthorized", [("Content-Length", "0")])
        return [b""]

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    secret = os.environ[SECRET_VARIABLE]
    # Bare: no log line per queued request either (waitress warns of its queue depth).
    logging.getLogger("waitress.queue").disabled = True
    server = serve_in_thread(bare_app(secret), limits=ServerLimits(threads=args.threads))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"bare on {server.url}", flush=True)
    stop.wait()
    server.close(timeout=5)


if __name__ == "__main__":
    main()
