"""The stand-ins' HTTP servers (waitress): bursts are all answered, and close() leaves nothing
running behind it."""

from __future__ import annotations

import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httplib2

from devstack.waiting import eventually
from localslack import BOT_TOKEN, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve


def _status(request: urllib.request.Request | str) -> int:
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _post(url: str) -> int:
    auth = {"Authorization": f"Bearer {BOT_TOKEN}"}
    return _status(urllib.request.Request(url, data=b"", method="POST", headers=auth))


def test_a_burst_of_200_is_answered_and_close_stops_every_thread() -> None:
    before = set(threading.enumerate())
    slack = LocalSlack().start()
    emulator = serve(Emulator(fleet=4, projects=1))
    try:
        with ThreadPoolExecutor(max_workers=200) as pool:
            slack_codes = list(pool.map(_post, [slack.api_url + "auth.test"] * 200))
        assert slack_codes == [200] * 200
        assert len(slack.workspace.calls_to("auth.test", ok=True)) == 200
        stats = emulator.url + "/emulator/v1/stats"
        with ThreadPoolExecutor(max_workers=200) as pool:
            codes = list(pool.map(_status, [stats] * 200))
        assert codes == [200] * 200
    finally:
        slack.close()
        emulator.close()
    eventually(lambda: set(threading.enumerate()) <= before, 10, "the servers' threads to end")


def test_the_emulator_answers_one_request_per_connection() -> None:
    """As the wsgiref server did: the bot's per-call Http objects are never closed, and a
    kept-alive socket would stay open until the garbage collector found it."""
    emulator = serve(Emulator(fleet=4, projects=1))
    try:
        http = httplib2.Http(timeout=10)
        response, _ = http.request(emulator.url + "/emulator/v1/stats")
        assert response.status == 200 and response["connection"] == "close"
        assert not http.connections or all(c.sock is None for c in http.connections.values())
    finally:
        emulator.close()
