"""The demo's Compute Engine chaos: each control breaks what it says (read back as Google's client
would see it), and `heal` mends all of it."""

from __future__ import annotations

import random
from typing import Any

from devstack import compute_chaos
from devstack.page import emulator_chaos
from tpu_emulator import Emulator


def everything(emulator: Emulator) -> tuple[list[Any], list[Any], list[Any]]:
    instances = compute_chaos.instances(emulator, lambda name: True)
    subs = compute_chaos.sub_blocks(emulator, lambda name: True)
    flex = [
        r
        for g in compute_chaos.groups(emulator, lambda name: True)
        for r in compute_chaos.flex_requests(emulator, g)
    ]
    return instances, subs, flex


def test_each_compute_control_breaks_what_it_says_then_heal_mends_it(emulator: Emulator) -> None:
    chaos = emulator_chaos(emulator, rng=random.Random(5))
    assert chaos("heal").startswith("healed ")  # a quiet fleet to start from
    did = chaos("spot-preempt")
    assert did.startswith("preempted spot VM ")
    victim = did.rsplit(" ", 1)[1]
    instances, subs, flex = everything(emulator)
    assert next(i for i in instances if i["name"] == victim)["status"] == "TERMINATED"
    assert chaos("break-host").startswith("broke a host of slice ironwood-slice-a")
    assert chaos("degrade-sub-block").startswith("degraded sub-block ")
    assert chaos("flex-stuck").startswith("flex-start stuck: stuck-")
    instances, subs, flex = everything(emulator)
    assert any(i["status"] == "REPAIRING" for i in instances)
    assert any(s["healthInfo"]["degradedHostCount"] for s in subs)
    assert any(r["name"].startswith("stuck-") and r["state"] == "ACCEPTED" for r in flex)
    assert chaos("heal").startswith("healed ")
    instances, subs, flex = everything(emulator)
    down = [i["name"] for i in instances if i["status"] == "REPAIRING"]
    spot_down = [
        i["name"]
        for i in instances
        if i["status"] == "TERMINATED" and i["scheduling"].get("provisioningModel") == "SPOT"
    ]
    assert down == [] and spot_down == []
    assert not any(s["healthInfo"]["degradedHostCount"] for s in subs)
    assert not any(r["state"] in ("ACCEPTED", "FAILED") for r in flex)
