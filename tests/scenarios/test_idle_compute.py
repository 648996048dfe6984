"""Usage of every kind of TPU (issues 20 and 21 together): a Compute Engine TPU VM idle past the
threshold is named in the idle notice with its machine type's cost, Stop goes through approval
and settles it; `/tpu list` cards carry each TPU's duty cycle and HBM over 1 h and 24 h, read
for the page's TPUs only; `/tpu get` on a TPU VM shows its utilization; `/tpu usage` lists both
kinds. The real bot, the emulator (Cloud TPU API, Compute Engine, Cloud Monitoring) and
localslack over HTTP; time is the stack's FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.slack.actions import ActionId
from bot.tpu.monitoring import LIST_METHOD
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVER, OPERATOR, VIEWER, Stack
from localslack import Message
from tests.scenarios.compute_world import (
    COMPUTE_CONFIG,
    FLEX_ZONE,
    PROJECT,
    SLICE_ZONE,
    approval_roots,
    calls,
    compute_stack,
    google_status,
    instances,
    name_of,
    standalone,
)

MANAGED = ("ml-prod", "ml-infra", "ml-research")


@pytest.fixture
def world(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    clock.advance(26 * 3600)  # every seeded TPU has a day of history
    with compute_stack(tmp_path, clock) as stack:
        yield stack


def busy_but(stack: Stack, idle: str) -> None:
    """Every TPU of the managed projects (nodes and TPU VMs) busy for the last day, but `idle`."""
    since = (stack.clock() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    names = [n for p in MANAGED for n in stack.emulator.node_names(p)]
    names += [name_of(i) for p in MANAGED for i in instances(stack, p)]
    for name in names:
        stack.emulator.inject(name, {"dutyCycle": 0 if name == idle else 90, "since": since})


def notices(stack: Stack) -> list[Message]:
    return [
        m for m in stack.bot_messages(ALERTS) if not m.thread_ts and "idle tpu" in m.text.lower()
    ]


def sweep(stack: Stack) -> None:
    stack.bot.jobs.run("idle_sweep")
    stack.drain()


def test_an_idle_tpu_vm_is_named_with_its_cost_and_stop_settles_it(world: Stack) -> None:
    vm = standalone(world, spot=False)
    name = name_of(vm)
    busy_but(world, name)
    sweep(world)
    [notice] = notices(world)
    assert vm["name"] in notice.text and "1 idle TPU" in notice.text, notice.text
    machine = vm["machineType"].rsplit("/", 1)[1]
    assert machine in str(notice.blocks)  # the machine type, where a node shows its accelerator
    assert "a day" in str(notice.blocks)  # its price per chip-hour by generation
    world.click(OPERATOR, notice, ActionId.STOP)
    [request] = approval_roots(world)
    world.click(APPROVER, request, ActionId.APPROVE)
    assert calls(world, "compute.instances.stop") == 1
    assert google_status(world, name) == "TERMINATED"
    sweep(world)
    thread = [m for m in world.bot_messages(ALERTS) if m.thread_ts == notice.ts]
    assert any("no longer idle" in m.text and "TERMINATED" in m.text for m in thread), thread


def test_keep_names_a_tpu_vm_too(world: Stack) -> None:
    vm = standalone(world, spot=False)
    busy_but(world, name_of(vm))
    sweep(world)
    [notice] = notices(world)
    world.click(OPERATOR, notice, ActionId.KEEP)
    assert "none left idle" in notice.text.lower()
    kept = [e for e in world.bot.store.latest_audit(10) if e.action == "keep"]
    assert kept and kept[0].target == name_of(vm)


def monitoring_reads(stack: Stack) -> int:
    return calls(stack, LIST_METHOD)


def test_list_cards_carry_duty_cycle_and_hbm_read_for_the_page_only(world: Stack) -> None:
    vm = standalone(world, spot=False)
    busy_but(world, name_of(vm))
    before = monitoring_reads(world)
    page = world.command(VIEWER, "list project=ml-research")  # TPU VMs only (sources: compute)
    text = str(page.blocks)
    assert text.count(":bar_chart: duty cycle 90.0 % (1 h) · 90.0 % (24 h)") >= 1, text
    assert "HBM " in text and "(1 h / 24 h)" in text
    # One project, one kind on the page: duty cycle, HBM used and HBM total, one page each.
    assert monitoring_reads(world) - before == 3
    mixed = world.command(VIEWER, f"list project={PROJECT}")
    assert ":bar_chart: duty cycle" in str(mixed.blocks)


def test_get_on_a_tpu_vm_shows_its_utilization(world: Stack) -> None:
    vm = standalone(world, spot=False)
    busy_but(world, name_of(vm))
    card = world.command(VIEWER, f"get {PROJECT}/{vm['zone'].rsplit('/', 1)[1]}/{vm['name']}")
    fields = [f["text"] for b in card.blocks for f in b.get("fields") or ()]
    assert "*Duty cycle, 1 h*\n0.0 %" in fields and "*State*\nidle" in fields, fields
    assert "*Cost*\n$259.20 a day" in fields  # v6e on demand, 4 chips (usage_cost defaults)
    assert any(f.startswith("*HBM used, 1 h / 24 h*\n") and "GiB" in f for f in fields)
    assert any(b["type"] == "data_visualization" for b in card.blocks)


def test_usage_lists_both_kinds(world: Stack) -> None:
    vm = standalone(world, spot=False)
    busy_but(world, name_of(vm))
    table = world.command(VIEWER, f"usage project={PROJECT}")
    cells = str(table.blocks)
    assert vm["name"] in cells
    assert any(n.rsplit("/", 1)[1] in cells for n in world.emulator.node_names(PROJECT))
    idle_only = world.command(VIEWER, f"usage project={PROJECT} idle")
    assert vm["name"] in str(idle_only.blocks)


def test_usage_outside_the_configured_locations_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    projects = [dict(p) for p in COMPUTE_CONFIG["projects"]]
    projects[0]["locations"] = [SLICE_ZONE]
    with compute_stack(tmp_path, clock, config={**COMPUTE_CONFIG, "projects": projects}) as stack:
        answer = stack.command(VIEWER, f"usage project={PROJECT} zone={FLEX_ZONE}")
        assert "does not manage" in answer.text and FLEX_ZONE in answer.text, answer.text
        assert monitoring_reads(stack) == 0
        inside = stack.command(VIEWER, f"usage project={PROJECT} zone={SLICE_ZONE}")
        assert "TPU utilization" in inside.text and monitoring_reads(stack) > 0
