"""Real `tpu-bot serve` processes for replica tests and the failover bench."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from devstack.processes import serve_env, start_serve
from devstack.waiting import eventually
from localslack import LocalSlack


def outbox_recorded(database_url: str) -> bool:
    """Everything Slack accepted is recorded as sent. Killing a leader before that (between
    Slack's answer and the commit) re-sends the message after failover: chat.postMessage has no
    idempotency key. Tests that mean "killed mid-incident" kill after this."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            pending = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            return int(pending.scalar_one()) == 0
    finally:
        engine.dispose()


@dataclass
class Replica:
    process: subprocess.Popen[str]
    url: str

    def metric(self, name: str, labels: str = "") -> float | None:
        try:
            with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        pattern = rf"^{re.escape(name)}{'{' + re.escape(labels) + '}' if labels else ''} (\S+)$"
        match = re.search(pattern, text, re.M)
        return float(match.group(1)) if match else None

    @property
    def leader(self) -> bool:
        return self.metric("tpubot_leader") == 1.0

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return json.loads(response.read()).get("status") == "ok"
        except OSError:
            return False

    def work_pid(self) -> int | None:
        """The pid of its work process (from /healthz), if it runs one."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                pid = json.loads(response.read()).get("work_process")
        except OSError:
            return None
        return int(pid) if pid else None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def start_replicas(
    count: int,
    workdir: Path,
    slack: LocalSlack,
    tpu_url: str,
    database_url: str,
    config: dict[str, Any],
    first_index: int = 0,
) -> list[Replica]:
    """`count` serve processes named replica-<first_index>... (TPUBOT_REPLICA_ID): the same
    name again is a restart of that replica."""
    replicas = []
    for index in range(first_index, first_index + count):
        env = serve_env(
            workdir,
            slack.api_url,
            tpu_url,
            config,
            database_url=database_url,
            TPUBOT_REPLICA_ID=f"replica-{index}",
        )
        # Each replica's log stays in `workdir` (a test's tmp_path): a failure can be read.
        with open(workdir / f"replica-{index}.log", "a") as log:
            served = start_serve(
                env, log_level="WARNING", stdout=log, stderr=subprocess.STDOUT, wait=False
            )
        replicas.append(Replica(served.process, served.url))
    eventually(lambda: all(r.healthy() for r in replicas), 60, "replicas up")
    return replicas


@contextmanager
def emulator_process(*args: str) -> Iterator[str]:
    """`tpu-bot emulator --port 0 ARGS` in a process of its own; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the server has printed its address
        match = re.search(r"http://[\d.]+:\d+", line)
        assert match, line
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
