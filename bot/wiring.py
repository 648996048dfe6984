"""The ports of a process over their adapters (`wire`): the bot's own and its work process's
(`work_side`), each building only the Google clients it uses (`Uses`)."""

from __future__ import annotations

import enum
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import clients
from bot.config import Settings
from bot.core.budget import RequestBudget
from bot.core.liveness import Replica
from bot.core.policy import groups_in
from bot.slack.carry import ButtonCarrier
from bot.slack.chat import Outbox, make_web_client
from bot.slack.directory import SlackDirectory
from bot.slack.ingress import SeenGroups
from bot.storage.liveness import ReplicaLiveness
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from bot.usecases import Deps, Dispatcher

log = logging.getLogger("bot")


def utcnow() -> datetime:
    return datetime.now(UTC)


def replica_name(settings: Settings) -> str:
    """This replica's stable name: TPUBOT_REPLICA_ID, else the host (the pod) name."""
    return settings.env.TPUBOT_REPLICA_ID or socket.gethostname()


class Wired(NamedTuple):
    deps: Deps  # the jobs' (unbudgeted clients); a process of one side only: that side's
    commands: Deps  # people's commands: the TPU and Compute clients spend the command budget
    store: Store
    watch: WatchStore
    directory: SeenGroups
    client: WebClient
    liveness: ReplicaLiveness


@dataclass(frozen=True)
class Collaborators:
    """What a test or the demo hands `build` instead of real clients."""

    tpu: Any = None
    compute: Any = None
    usage: Any = None

    @property
    def any(self) -> bool:
        return any(x is not None for x in (self.tpu, self.compute, self.usage))


def _or(given: Any, build: Callable[[], Any]) -> Any:
    """What a test or the demo handed in, else a real client."""
    return given if given is not None else build()


class Uses(enum.Flag):
    """Whose Google clients a process builds: the jobs' (watcher, approvals resumed, operations
    followed), people's commands' (on their own budget), or both. Each costs its discovery
    documents in memory: the bot with a work process builds the jobs' only, the work process
    the commands' only."""

    JOBS = enum.auto()
    COMMANDS = enum.auto()
    BOTH = JOBS | COMMANDS


def wire(
    settings: Settings,
    observer: clients.Observer,
    replica: Replica,
    given: Collaborators,
    uses: Uses = Uses.BOTH,
) -> Wired:
    """The use cases' ports over their adapters, the directory the ack path reads admins from,
    and the Web API client; the bot and its work process each build their own."""
    env, config = settings.env, settings.bot
    assert env.SLACK_BOT_TOKEN is not None
    store = Store(env.TPUBOT_DATABASE_URL)
    client = make_web_client(env.SLACK_BOT_TOKEN.get_secret_value(), env.SLACK_API_URL)
    # Remembers what the work path looked up, so the ack path can tell admins without Slack.
    directory = SeenGroups(
        SlackDirectory(
            client,
            groups_in(config.roles),
            max_age_seconds=60 * config.slack.group_max_age_minutes,
        )
    )
    watch_store = WatchStore(store)
    liveness = ReplicaLiveness(store, replica, timedelta(seconds=2 * config.watch.lease_seconds))
    # People's commands spend their own budget of API requests; the jobs (watcher, approvals
    # resumed, operations followed) use the unbudgeted clients.
    budget = RequestBudget(config.gcp.command_requests_per_minute)
    spends = budget if uses is Uses.COMMANDS else None
    deps = Deps(
        config,
        _or(given.tpu, lambda: clients.tpu_client(settings, observer, spends)),
        store,
        directory,
        watch_store,
        Outbox(watch_store.outbox),
        liveness=liveness,
        carrier=ButtonCarrier(watch_store.values),
        usage=_or(
            given.usage,
            lambda: (
                clients.commands_monitoring(settings, observer)
                if uses is Uses.COMMANDS
                else clients.monitoring(settings, observer)
            ),
        ),
        compute=_or(given.compute, lambda: clients.compute_client(settings, observer, spends)),
    )
    if uses is not Uses.BOTH:  # one side only: its clients are the ones built above
        return Wired(deps, deps, store, watch_store, directory, client, liveness)
    commands = replace(
        deps,
        tpu=_or(given.tpu, lambda: clients.tpu_client(settings, observer, budget)),
        compute=_or(given.compute, lambda: clients.compute_client(settings, observer, budget)),
        usage=_or(given.usage, lambda: clients.commands_monitoring(settings, observer)),
    )
    return Wired(deps, commands, store, watch_store, directory, client, liveness)


WORK_SUFFIX = "/work"  # the work process's replica name: its parent's, and this


def work_side(settings: Settings, observer: clients.Observer) -> tuple[Dispatcher, SeenGroups]:
    """What the work process runs requests with (bot.runtime.workers.child_main). It is a
    replica of its own (`<name>/work`, a new boot each start) with a heartbeat of its own: an
    approval it was running when it died is taken over once that heartbeat lapses, and at once
    by the next work process of the same bot (a later boot of the same name)."""
    replica = Replica(replica_name(settings) + WORK_SUFFIX, uuid.uuid4().hex[:12])
    wired = wire(settings, observer, replica, Collaborators(), Uses.COMMANDS)
    every = max(1.0, settings.bot.watch.lease_seconds / 3)
    threading.Thread(
        target=_beat_forever, args=(wired.liveness, every), name="tpu-bot-work-beat", daemon=True
    ).start()
    return Dispatcher(wired.commands), wired.directory


def _beat_forever(liveness: ReplicaLiveness, every: float) -> None:
    """The work process's heartbeat (it runs no scheduler); a failed beat is tried again."""
    pause = threading.Event()
    while True:
        try:
            liveness.beat(utcnow())
        except (SQLAlchemyError, OSError) as exc:
            log.warning("work: heartbeat failed: %s", exc.__class__.__name__)
        pause.wait(every)
