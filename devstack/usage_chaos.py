"""Usage chaos for the demo: a TPU goes idle (its duty cycle drops to 0 for the last day, so the
idle sweep names it at its next check), or every TPU is busy again."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from tpu_emulator import Emulator

Watched = Callable[[str], bool]


def _since(emulator: Emulator, back: timedelta) -> str:
    return (emulator.clock() - back).isoformat().replace("+00:00", "Z")


def go_idle(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    """A READY TPU the bot watches, idle for the last day (past any idle window)."""
    ready = [
        n for n in emulator.node_names() if watched(n) and emulator.get_node(n)["state"] == "READY"
    ]
    if not ready:
        return "no READY TPU to make idle"
    name = rng.choice(ready)
    emulator.inject_utilization(
        name, {"dutyCycle": 0, "since": _since(emulator, timedelta(days=1))}
    )
    return f"{name.rsplit('/', 1)[1]} does nothing any more (duty cycle 0 % for a day)"


def busy_again(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    """Every TPU the bot watches busy from now on."""
    names = [n for n in emulator.node_names() if watched(n)]
    for name in names:
        emulator.inject_utilization(name, {"dutyCycle": 90})
    return f"{len(names)} TPUs busy again (duty cycle 90 %)"


USAGE_CHAOS: dict[str, Callable[[Emulator, Watched, random.Random], str]] = {
    "go-idle": go_idle,
    "busy-again": busy_again,
}
