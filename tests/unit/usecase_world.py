"""The use cases wired to port fakes (FakeTpu, RecordingOutbox) and a real Store on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import BotConfig
from bot.core import messages as m
from bot.core.records import Approval, ApprovalStatus
from bot.storage.watch_store import WatchStore
from bot.usecases import approvals
from bot.usecases.context import Deps
from bot.usecases.dispatch import Dispatcher
from devstack.clock import T0
from tests.fakes import FakeDirectory, FakeTpu, FlakyStore, RecordingOutbox

OPERATOR, APPROVER, APPROVER2 = "U0OPER", "U0APPR1", "U0APPR2"
GENERAL, APPROVALS, ALERTS = "C0GENERAL", "C0ONCALL", "C0ALERTS"
NODE = "projects/ml-prod/locations/us-central1-b/nodes/n1"
CONFIG: dict[str, Any] = {
    "projects": [{"id": "ml-prod"}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "roles": {"operator": [OPERATOR], "approver": [APPROVER, APPROVER2]},
    "approvals": {"ttl_minutes": 30, "retry_minutes": 5, "attempt_timeout_seconds": 60},
}


@dataclass
class World:
    """Deps on fakes, a dispatcher, and a clock moved by hand (`now`, `later`)."""

    deps: Deps
    tpu: FakeTpu
    outbox: RecordingOutbox
    store: FlakyStore
    now: datetime = T0

    @property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.deps)

    def later(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def command(self, text: str, user: str = OPERATOR, channel: str = GENERAL) -> m.Message | None:
        return self.dispatcher.command(user, channel, text, self.now)

    def request_stop(self, name: str = NODE) -> Approval:
        """`/tpu stop` by the operator: the pending approval it filed."""
        answer = self.command(f"stop {name} nightly shutdown")
        assert isinstance(answer, m.ApprovalQueued), answer
        return answer.approval

    def command_stop_again(self, name: str = NODE) -> Approval:
        """Another operator's `/tpu stop` of the same node, once the first is no longer pending."""
        answer = self.command(f"stop {name} again", user=APPROVER2)
        assert isinstance(answer, m.ApprovalQueued), answer
        return answer.approval

    def approve(self, approval: Approval, user: str = APPROVER) -> m.Message:
        decided = self.dispatcher.click(user, APPROVALS, f"approve {approval.id}", self.now)
        assert decided is not None
        return decided

    def status(self, approval: Approval) -> ApprovalStatus:
        return self.approval(approval).status

    def approval(self, approval: Approval) -> Approval:
        found = self.store.get_approval(approval.id)
        assert found is not None
        return found

    def resume(self) -> int:
        return approvals.resume(self.deps, self.now)

    def redraws(self, approval: Approval) -> list[ApprovalStatus]:
        """The states the request message was redrawn in, oldest first."""
        root = self.approval(approval).root_outbox
        assert root is not None
        edits = self.outbox.edits(root)
        return [e.approval.status for e in edits if isinstance(e, m.ApprovalRequest)]

    def thread(self, approval: Approval) -> list[m.Message]:
        root = self.approval(approval).root_outbox
        assert root is not None
        return self.outbox.thread(root)


def make_world(tmp_path: Path) -> Iterator[World]:
    store = FlakyStore(f"sqlite:///{tmp_path / 'store.db'}")
    tpu = FakeTpu(clock=lambda: world.now)
    outbox = RecordingOutbox()
    deps = Deps(
        config=BotConfig.model_validate(CONFIG),
        tpu=tpu,
        store=store,
        directory=FakeDirectory(),
        watch=WatchStore(store),
        outbox=outbox,
    )
    world = World(deps, tpu, outbox, store)
    tpu.add_node(NODE)
    yield world
    store.close()
