"""The wired bot speaks each project's configured API: v1alpha1 to one, v2 to another."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import CONFIG, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=10, fleet=60, projects=5)


@pytest.fixture
def mixed(
    tmp_path: Path, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> Iterator[Stack]:
    config = copy.deepcopy(CONFIG)
    config["projects"] = [{"id": "ml-prod", "api": "v1alpha1"}, {"id": "ml-infra"}]
    running = start_stack(tmp_path, emulator, emulator_server, clock, config=config)
    yield running
    running.bot.close()
    running.slack.close()


def test_a_tick_lists_each_project_through_its_version(
    mixed: Stack, emulator_server: RunningServer
) -> None:
    mixed.tick()
    requests = admin(emulator_server, "stats")["requests"]
    assert requests.get("nodes.list") == 1 and requests.get("v2.nodes.list") == 1


def test_build_gives_the_client_each_projects_api(mixed: Stack, clock: FakeClock) -> None:
    # Without an injected client, build() makes one from the config.
    bot = build(mixed.bot.settings, clock=clock)
    try:
        assert bot.tpu.api_of("ml-prod") == "v1alpha1"
        assert bot.tpu.api_of("ml-infra") == "v2"
        assert bot.tpu.list_nodes("ml-infra").nodes[0].software_version
    finally:
        bot.close()
