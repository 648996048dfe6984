"""Run the tpu-bot image and check it the way production runs it (scripts/image_check.sh step 4).

The container runs read-only as the image's own user, `tpu-bot serve` in HTTP mode with dummy
Slack tokens against local Slack and the TPU emulator, started here on the host (the container
shares the host's network). It must answer /healthz and /readyz, answer a signed `/tpu list`
through Slack's response_url (Slack and the TPU API really reached), hold exactly the locked
distributions and no stand-in or test code, and stop cleanly on SIGTERM within a few seconds.

    python scripts/image_check.py --image IMAGE -- podman [global podman options]

Exits non-zero on the first failure, with the container's log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from devstack.stack import CONFIG, VIEWER, people
from devstack.waiting import eventually, free_port
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "deploy" / "requirements.txt"
# Never in the image: the stand-ins (not even as a directory anywhere), the tests and benchmarks,
# and the dev extra's packages (Slack's SDKs have subpackages named websockets: only top level).
STAND_INS = ("tpu_emulator", "localslack", "devstack")
NOT_IN_IMAGE = (*STAND_INS, "tests", "bench", "websockets", "selenium")
# What a virtual environment brings besides the lock and the product (Python 3.11's venv).
VENV_OWN = {"pip", "setuptools"}
IMAGE_UID = 10001
# Lower than podman's defaults (nofile 1048576, nproc 32768), as a pod's limits would be.
ULIMITS = ("nofile=4096:4096", "nproc=1024:1024")
START_SECONDS = 90.0  # migrations, the first Slack call, two shared cores
STOP_SECONDS = 10.0  # idle, the bot stops in about a second; TPUBOT_SHUTDOWN_SECONDS is 25

# Runs inside the container (as the image's user) and reports what it finds as JSON.
PROBE = r"""
import importlib.metadata as md, importlib.util, json, os, sys

def ids(field):
    for line in open("/proc/1/status"):
        if line.startswith(field + ":"):
            return [int(x) for x in line.split()[1:]]

names, stand_ins = sys.argv[1].split(","), sys.argv[2].split(",")
found = []
for top in ("/opt", "/usr", "/etc", "/var", "/srv", "/home", "/root", "/app"):
    for path, dirs, _files in os.walk(top):
        found += [os.path.join(path, d) for d in dirs if d in stand_ins]
site = [p for p in sys.path if p.endswith("site-packages")]
found += [os.path.join(s, n) for s in site for n in names if os.path.exists(os.path.join(s, n))]
product = md.distribution("tpu-bot")
print(json.dumps({
    "uid": ids("Uid"), "gid": ids("Gid"),
    "cmdline": open("/proc/1/cmdline", "rb").read().decode().split("\0"),
    "root_read_only": bool(os.statvfs("/").f_flag & os.ST_RDONLY),
    "writable": {p: os.access(p, os.W_OK) and not os.statvfs(p).f_flag & os.ST_RDONLY
                 for p in ("/tmp", "/var/lib/tpu-bot")},
    "importable": [n for n in names if importlib.util.find_spec(n) is not None],
    "found": sorted(set(found)),
    "distributions": {d.metadata["Name"]: d.version for d in md.distributions()},
    "product_tops": sorted({f.parts[0] for f in product.files or []}),
    "python": sys.version.split()[0],
    "pip_conf": open("/etc/pip.conf").read() if os.path.exists("/etc/pip.conf") else "",
}))
"""


class CheckFailed(Exception):
    pass


def check(ok: object, what: str) -> None:
    if not ok:
        raise CheckFailed(what)
    print(f"  ok  {what}")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """deploy/requirements.txt's pins: normalized name -> version."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", LOCK.read_text(), re.M)
    return {normalize(name): version for name, version in pins}


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:
        return 0, {}


class Container:
    """One container of the image, through podman with the caller's global options."""

    def __init__(self, podman: Sequence[str], image: str) -> None:
        self.podman = list(podman)
        self.image = image
        self.name = f"tpu-bot-check-{os.getpid()}"

    def run(self, *args: str, check: bool = True, timeout: float = 60, both: bool = False) -> str:
        result = subprocess.run(
            [*self.podman, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise CheckFailed(f"podman {args[0]} failed: {result.stderr.strip()}")
        return result.stdout + result.stderr if both else result.stdout

    def start(self, env: dict[str, str], config: Path) -> None:
        options = [f"--ulimit={limit}" for limit in ULIMITS]
        for key, value in env.items():
            options += ["--env", f"{key}={value}"]
        self.run(
            "run",
            "--detach",
            "--name",
            self.name,
            "--read-only",
            "--network=host",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            "--log-driver=k8s-file",
            *options,
            "--volume",
            f"{config}:/etc/tpu-bot/tpubot.yaml:ro",
            self.image,
        )

    def state(self) -> dict[str, Any]:
        return json.loads(self.run("inspect", "--format", "{{json .State}}", self.name))

    def logs(self) -> str:
        # podman logs replays the container's stderr on its own stderr.
        return self.run("logs", self.name, check=False, both=True)

    def remove(self) -> None:
        self.run("rm", "--force", "--time", "0", self.name, check=False)


def wait_serving(container: Container, base: str) -> None:
    def up() -> bool:
        if not container.state().get("Running"):
            raise CheckFailed("the container exited before serving")
        return get(base + "/healthz")[0] == 200

    try:
        eventually(up, timeout=START_SECONDS, what="/healthz", interval=0.5)
    except TimeoutError:
        raise CheckFailed(f"no /healthz within {START_SECONDS:.0f} s") from None


def check_serving(container: Container, slack: LocalSlack, base: str) -> None:
    status, health = get(base + "/healthz")
    check(status == 200 and health.get("mode") == "http", f"/healthz 200 in HTTP mode: {health}")
    status, ready = get(base + "/readyz")
    check((status, ready) == (200, {"ready": True, "reason": "ok"}), f"/readyz 200: {ready}")
    slack.bot_url = base + "/slack/events"
    delivery = slack.slash(VIEWER, "list project=ml-prod")
    check(delivery.status == 200, f"a signed /tpu list is acknowledged ({delivery.status})")
    answers = slack.workspace.wait_for(
        lambda: [m for m in slack.workspace.snapshot() if m.via == "response_url"], timeout=30
    )
    title = answers[0].blocks[0]["text"]["text"]
    check(title == "TPUs", f"it answers through response_url from the TPU API: {title!r}")
    # The image's own HEALTHCHECK command, run now (podman has no systemd timer to run it here).
    container.run("healthcheck", "run", container.name, check=False, timeout=30)
    state = container.state()
    health = state.get("Health") or state.get("Healthcheck") or {}
    check(health.get("Status") == "healthy", "the image's HEALTHCHECK passes")


def check_contents(container: Container) -> None:
    names = (",".join(NOT_IN_IMAGE), ",".join(STAND_INS))
    out = container.run("exec", container.name, "python", "-c", PROBE, *names)
    probe = json.loads(out)
    print(f"      python {probe['python']}, {len(probe['distributions'])} distributions")
    check(
        set(probe["uid"]) == {IMAGE_UID} and set(probe["gid"]) == {IMAGE_UID},
        f"the bot runs as {IMAGE_UID}:{IMAGE_UID} (uid {probe['uid']}, gid {probe['gid']})",
    )
    command = " ".join(probe["cmdline"])
    check(
        "tpu-bot" in command and probe["cmdline"][-2:] == ["serve", ""],
        f"PID 1 is `tpu-bot serve`: {command.strip()}",
    )
    check(probe["root_read_only"], "the root filesystem is read-only")
    check(all(probe["writable"].values()), f"the image's volumes are writable: {probe['writable']}")
    check(
        not probe["importable"], f"no stand-in, test or dev package imports: {probe['importable']}"
    )
    check(not probe["found"], f"no stand-in or test directory on disk: {probe['found']}")
    installed = {normalize(n): v for n, v in probe["distributions"].items()}
    pins = locked()
    extra = set(installed) - set(pins) - VENV_OWN - {"tpu-bot"}
    check(not extra, f"only the lock's distributions are installed (extra: {sorted(extra)})")
    drift = {n: (v, pins[n]) for n, v in installed.items() if n in pins and pins[n] != v}
    check(not drift, f"each at the locked version (drift: {drift})")
    check({"psycopg", "psycopg-binary"} <= set(installed), "the postgres extra is installed")
    # The build mounts the machine's pip config at /etc/pip.conf; only an empty mount point stays.
    check(not probe["pip_conf"].strip(), "no pip index configuration left in the image")
    tops = [t for t in probe["product_tops"] if not t.startswith(("..", "tpu_bot-"))]
    check(tops == ["bot"], f"the product's wheel holds bot/ only: {probe['product_tops']}")


def check_stop(container: Container) -> None:
    started = time.monotonic()
    # SIGTERM (the image's STOPSIGNAL), then SIGKILL after 30 s: a kill shows as 137.
    container.run("stop", "--time", "30", container.name, timeout=60)
    seconds = time.monotonic() - started
    code = container.state()["ExitCode"]
    check(code in (0, 143), f"SIGTERM: exit code {code} (0 or 143)")
    check(seconds < STOP_SECONDS, f"stopped in {seconds:.1f} s (< {STOP_SECONDS:.0f} s)")
    logs = container.logs()
    check("tpu-bot stopped" in logs, "the log says it stopped")
    check(BOT_TOKEN not in logs and SIGNING_SECRET not in logs, "no token or secret in the log")


def run_checks(container: Container, work: Path) -> None:
    emulator_server = serve(Emulator(fleet=12, projects=3, op_seconds=1.0, clean=True))
    slack = LocalSlack().start()
    people(slack)
    try:
        config = work / "tpubot.yaml"
        config.write_text(yaml.safe_dump(CONFIG))
        config.chmod(0o644)
        port = free_port()
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "TPU_API_ENDPOINT": emulator_server.url,
            "COMPUTE_API_ENDPOINT": emulator_server.url,
            "MONITORING_API_ENDPOINT": emulator_server.url,
            "PORT": str(port),
        }
        base = f"http://127.0.0.1:{port}"

        def start() -> None:
            container.start(env, config)  # vfs storage copies the image's files: seconds
            wait_serving(container, base)

        steps: list[tuple[str, Callable[[], None]]] = [
            ("start", start),
            ("serve", lambda: check_serving(container, slack, base)),
            ("contents", lambda: check_contents(container)),
            ("stop", lambda: check_stop(container)),
        ]
        for name, step in steps:
            started = time.monotonic()
            print(f"-- {name}")
            step()
            print(f"   {name}: {time.monotonic() - started:.1f} s")
    finally:
        slack.close()
        emulator_server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("podman", nargs="+", help="the podman command and its global options")
    args = parser.parse_args(argv)
    container = Container(args.podman, args.image)
    with tempfile.TemporaryDirectory() as work:
        Path(work).chmod(0o755)  # the container's user reads the config through the bind mount
        try:
            run_checks(container, Path(work))
        except (CheckFailed, TimeoutError) as exc:
            print(f"FAIL {exc}", file=sys.stderr)
            print("---- container log ----", file=sys.stderr)
            print(container.logs(), file=sys.stderr)
            return 1
        finally:
            container.remove()
    print("the image starts, serves, holds only the product and stops cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
