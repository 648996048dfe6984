"""A whole local stack for scenario tests: emulator + localslack + the real wired bot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.app import Bot, build
from bot.config import load_settings
from bot.tpu.client import TpuClient
from bot.tpu.compute import ComputeClient
from devstack.clock import FakeClock
from localslack import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    LocalSlack,
    Message,
    Workspace,
)
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer

VIEWER, OPERATOR, APPROVER, APPROVER2, ADMIN, STRANGER = (
    "U0VIEW",
    "U0OPER",
    "U0APPR1",
    "U0APPR2",
    "U0ADMIN",
    "U0NOBODY",
)
ALERTS, APPROVALS, GENERAL = "C0ALERTS", "C0ONCALL", "C0GENERAL"

CONFIG: dict[str, Any] = {
    # The emulator's first projects hold v1alpha1 TPU Nodes; the scenarios reimage them, offer
    # TensorFlow versions and count v1alpha1 calls, so the stack speaks v1alpha1 to them. They
    # read the Cloud TPU API only: the Compute Engine scenarios (tests/scenarios/test_compute_*)
    # configure compute themselves.
    "projects": [
        {"id": "ml-prod", "api": "v1alpha1", "sources": ["tpu"]},
        {
            "id": "ml-research",
            "api": "v1alpha1",
            "locations": ["us-central1-b", "europe-west4-a", "us-central1-a"],
            "sources": ["tpu"],
        },
    ],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "roles": {
        "viewer": [VIEWER, "S0EVERYONE"],
        "operator": ["S0PLATFORM"],
        "approver": ["S0ONCALL"],
        "admin": [ADMIN],
    },
    "routes": [
        {"match": {"project": "ml-research", "labels": {"team": "vision"}}, "channel": "C0VISION"}
    ],
    "approvals": {"required_for": ["stop", "delete", "reimage", "create"], "ttl_minutes": 30},
    "watch": {"poll_seconds": 60, "operations_seconds": 10},
}


def people(slack: LocalSlack) -> None:
    ws = slack.workspace
    ws.add_channel("C0VISION", "vision-alerts")
    ws.add_user(VIEWER, "vera", ("S0EVERYONE",))
    ws.add_user(OPERATOR, "otto", ("S0PLATFORM", "S0EVERYONE"))
    ws.add_user(APPROVER, "ada", ("S0ONCALL", "S0EVERYONE"))
    ws.add_user(APPROVER2, "abe", ("S0ONCALL", "S0EVERYONE"))
    ws.add_user(ADMIN, "root", ())
    ws.add_user(STRANGER, "sam", ())


@dataclass
class Stack:
    emulator: Emulator
    emulator_server: RunningServer
    slack: LocalSlack
    bot: Bot
    clock: FakeClock

    @property
    def ws(self) -> Any:
        return self.slack.workspace

    def bot_messages(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.ws.snapshot(channel) if m.user == BOT_USER]

    def command(self, user: str, text: str, channel: str = GENERAL) -> Message:
        """Type `/tpu text`; wait for the bot's answer to that user, then let the outbox
        deliver what the command queued (as the running bot's drainer would within a second)."""
        before = len(self.ws.snapshot(include_deleted=True))
        delivery = self.slack.slash(user, text, channel)
        assert delivery.status == 200, delivery
        answer = self.wait_new(before, lambda m: m.ephemeral_for == user or m.channel == channel)
        self.settle()
        return answer

    def wait_new(self, before: int, match: Callable[[Message], bool]) -> Message:
        def found() -> Message | None:
            fresh = self.ws.snapshot(include_deleted=True)[before:]
            return next((m for m in fresh if m.user == BOT_USER and match(m)), None)

        return self.ws.wait_for(found)

    def click(
        self, user: str, message: Message, action_id: str, *, edits: bool = False, **kwargs: Any
    ) -> Message:
        """Click; wait for the bot's answer to the clicker, or (edits=True) for the message to
        be replaced."""
        before = len(self.ws.snapshot(include_deleted=True))
        version = message.edited
        delivery = self.slack.click(user, message, action_id, **kwargs)
        assert delivery.status == 200, delivery
        if edits:
            answer = self.ws.wait_for(lambda: message if message.edited > version else None)
        else:
            answer = self.wait_new(before, lambda m: m.ephemeral_for == user)
        self.settle()
        return answer

    def tick(self) -> None:
        """One poll, then drain the outbox to empty, one paced second at a time."""
        self.bot.jobs.run("poll_nodes")
        self.drain()

    def settle(self, limit: int = 60) -> None:
        """Run the drainer while it makes progress (a Slack outage in a test stops it early)."""
        self._drain(limit, stop_when_stalled=True)

    def drain(self, limit: int = 600) -> None:
        """Run the drainer, one paced second at a time, until the outbox is empty."""
        if not self._drain(limit, stop_when_stalled=False):
            raise AssertionError("the outbox did not drain")

    def _drain(self, limit: int, *, stop_when_stalled: bool) -> bool:
        """True once the outbox is empty; False when the limit (or, if asked, three passes
        without progress) came first."""
        stalled = 0
        for _ in range(limit):
            depth = self.bot.watch.outbox.depth()
            if depth == 0:
                return True
            self.bot.jobs.run("drain_outbox")
            self.clock.advance(1)
            stalled = stalled + 1 if self.bot.watch.outbox.depth() == depth else 0
            if stop_when_stalled and stalled >= 3:
                return False
        return self.bot.watch.outbox.depth() == 0

    def close(self) -> None:
        self.bot.close()
        self.slack.close()
        self.emulator_server.close()


def start_stack(
    tmp_path: Path,
    emulator: Emulator,
    emulator_server: RunningServer,
    clock: FakeClock,
    *,
    socket_mode: bool = False,
    database_url: str | None = None,
    config: dict[str, Any] | None = None,
    own_clients: bool = False,
) -> Stack:
    """The stack; `own_clients`: the bot builds its TPU clients from settings, as `serve`
    does (a budgeted one for commands), instead of sharing one fast-retrying test client."""
    # localslack stamps calls with the test's clock, so pacing can be checked in its seconds.
    slack = LocalSlack(Workspace(clock=lambda: clock().timestamp())).start()
    people(slack)
    config_path = tmp_path / "tpubot.yaml"
    config_path.write_text(yaml.safe_dump(config or CONFIG))
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "TPU_API_ENDPOINT": emulator_server.url,
        "COMPUTE_API_ENDPOINT": emulator_server.url,
        "MONITORING_API_ENDPOINT": emulator_server.url,
        "TPUBOT_CONFIG": str(config_path),
        "TPUBOT_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'tpubot.db'}",
    }
    if socket_mode:
        env["SLACK_APP_TOKEN"] = APP_TOKEN
    settings = load_settings(env)
    tpu = TpuClient(
        emulator_server.url,
        apis={project.id: project.api for project in settings.bot.projects},
        retries=2,
        backoff_seconds=0.001,
        timeout=10,
    )
    compute = ComputeClient(emulator_server.url, retries=2, backoff_seconds=0.001, timeout=10)
    bot = build(
        settings,
        clock=clock,
        tpu=None if own_clients else tpu,
        compute=None if own_clients else compute,
    )
    bot = bot.start(port=0, scheduler=False)
    if socket_mode:
        slack.hub.wait_for_client()
    else:
        slack.bot_url = bot.url + "/slack/events"
    return Stack(emulator, emulator_server, slack, bot, clock)
