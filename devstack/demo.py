"""`tpu-bot demo`: the emulator, localslack with its page, and the real bot, in one process."""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.app import Bot, build
from bot.config import load_settings
from devstack.page import DemoPage, emulator_chaos
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve as serve_emulator

log = logging.getLogger("devstack.demo")


DEMO_PEOPLE = {
    "U0VERA": ("vera", "viewer", ()),
    "U0OTTO": ("otto", "operator", ("S0PLATFORM",)),
    "U0ADA": ("ada", "approver", ("S0ONCALL",)),
    "U0ABE": ("abe", "approver", ("S0ONCALL",)),
    "U0ROOT": ("root", "admin", ()),
}
DEMO_CONFIG: dict[str, Any] = {
    "projects": [
        # TPU Nodes reimaged the v1alpha1 way; the others speak v2 (the default).
        {"id": "ml-prod", "api": "v1alpha1"},
        {"id": "ml-research"},
        {"id": "ml-sandbox", "locations": ["us-central1-b", "us-central1-c", "europe-west4-a"]},
        # TPU VMs, some behind queued resources, a multislice job among them.
        {"id": "ml-infra"},
    ],
    "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
    "routes": [
        {"match": {"project": "ml-research", "labels": {"team": "vision"}}, "channel": "C0VISION"}
    ],
    "roles": {
        "viewer": ["*"],
        "operator": ["S0PLATFORM"],
        "approver": ["S0ONCALL"],
        "admin": ["U0ROOT"],
    },
    "approvals": {"ttl_minutes": 30},
    # Compute Engine's slices, flex-start requests and reservations are read every 10 s here.
    "watch": {
        "poll_seconds": 5,
        "operations_seconds": 2,
        "storm_threshold": 5,
        "capacity_seconds": 10,
        # The demo's idle sweep looks often: "Go idle" shows within half a minute.
        "idle": {"check_seconds": 30},
    },
}


# What `tpu-bot demo --chaos` does, in turn.
CHAOS_ROUND = (
    "preempt",
    "unhealthy",
    "maintenance",
    "suspend",
    "spot-preempt",
    "break-host",
    "symptom",
    "heal",
)


def _multislice_job(emulator: Emulator) -> None:
    """A training job across four v4 slices, granted at once: what "lose a slice" breaks."""
    parent = "projects/ml-infra/locations/us-central2-b"
    spec = {"acceleratorType": "v4-8", "runtimeVersion": "tpu-ubuntu2204-base"}
    slices = {"nodeCount": 4, "nodeIdPrefix": "llm-pretrain"}
    body = {"tpu": {"nodeSpec": [{"parent": parent, "node": spec, "multisliceParams": slices}]}}
    emulator.create_queued_resource(parent, "llm-pretrain", None, body)
    emulator.inject(f"{parent}/queuedResources/llm-pretrain", {"state": "ACTIVE"})


@dataclass
class Demo:
    """Everything `tpu-bot demo` runs, in one process."""

    emulator: Emulator
    emulator_server: RunningServer
    slack: Any
    bot: Bot
    workdir: Path
    stop_chaos: threading.Event

    @property
    def url(self) -> str:
        return str(self.slack.url)

    def close(self) -> None:
        self.stop_chaos.set()
        self.bot.close()
        self.slack.close()
        self.emulator_server.close()


def start_demo(
    port: int = 8080,
    *,
    chaos_every: float | None = None,
    fleet: int = 48,
    op_seconds: float = 5.0,
    database_url: str | None = None,
) -> Demo:
    """The embedded default: emulator, localslack with its page, and the bot, nothing external."""
    # Four projects: three of TPU Nodes and one of TPU VMs (docs/emulator.md, seeding).
    emulator = Emulator(fleet=fleet, projects=4, op_seconds=op_seconds)
    _multislice_job(emulator)
    emulator_server = serve_emulator(emulator)
    scopes = {p["id"]: p.get("locations", ["-"]) for p in DEMO_CONFIG["projects"]}

    def watched(name: str) -> bool:
        project, zone = name.split("/")[1], name.split("/")[3]
        return project in scopes and ("-" in scopes[project] or zone in scopes[project])

    chaos = emulator_chaos(emulator, watched)
    page = DemoPage(chaos, {uid: role for uid, (_, role, _) in DEMO_PEOPLE.items()})
    slack = LocalSlack(extra_app=page).start(port=port)
    page.attach(slack)
    slack.workspace.add_channel("C0VISION", "vision-alerts")
    for uid, (name, _, groups) in DEMO_PEOPLE.items():
        slack.workspace.add_user(uid, name, groups)
    workdir = Path(tempfile.mkdtemp(prefix="tpubot-demo-"))
    (workdir / "tpubot.yaml").write_text(yaml.safe_dump(DEMO_CONFIG))
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "TPU_API_ENDPOINT": emulator_server.url,
            "COMPUTE_API_ENDPOINT": emulator_server.url,
            "MONITORING_API_ENDPOINT": emulator_server.url,
            "TPUBOT_CONFIG": str(workdir / "tpubot.yaml"),
            "TPUBOT_DATABASE_URL": database_url or f"sqlite:///{workdir / 'tpubot.db'}",
        }
    )
    bot = build(settings).start(port=0)
    slack.bot_url = bot.url + "/slack/events"
    stop = threading.Event()
    if chaos_every:

        def chaos_loop() -> None:
            actions = CHAOS_ROUND
            i = 0
            while not stop.wait(chaos_every):
                log.info("chaos: %s", chaos(actions[i % len(actions)]))
                i += 1

        threading.Thread(target=chaos_loop, daemon=True, name="chaos").start()
    return Demo(emulator, emulator_server, slack, bot, workdir, stop)
