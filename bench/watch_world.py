"""The watcher in-process against an emulator process: the bench's and the profile's harness.

`world(url, projects, db)` wires the watch use case as `bot.app.build` does (real TpuClient,
SQLite store, outbox) without Slack or a scheduler, so a tick can be timed and profiled alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.config import BotConfig
from bot.slack.chat import Outbox
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from bot.tpu.client import TpuClient
from bot.usecases import Deps


class NoDirectory:
    """The watcher never asks who is who."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the watcher called directory.{name}")


def world(url: str, projects: Sequence[str], db: str, watch: dict[str, Any] | None = None) -> Deps:
    config = BotConfig.model_validate(
        {
            "projects": [{"id": p} for p in projects],
            "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
            "watch": watch or {"poll_seconds": 60, "storm_threshold": 5},
        }
    )
    store = Store(f"sqlite:///{db}")
    tpu = TpuClient(url, retries=0, timeout=60)
    watch_store = WatchStore(store)
    return Deps(config, tpu, store, NoDirectory(), watch_store, Outbox(watch_store.outbox))
