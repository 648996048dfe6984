"""The walk of one `/tpu stop` through the bot's files: which modules of `bot/` the call path
enters, in order, from the listener's call to the dispatcher until the answer comes back (the
approval request filed), and how often it climbs back to a layer above the one it is in.

Run: .venv/bin/python scripts/walk.py

A local stack (emulator, localslack, the wired bot on SQLite) answers one `/tpu stop`; every
Python call into `bot/` is recorded (sys.setprofile). Layers, top to bottom: the listener and the
dispatcher (entry), the use cases, the ports' adapters (tpu, storage, slack outbox), core. A climb
is a call from a module into a module of a higher layer (a callback or a registry lookup that
goes back up), which is what makes a reader jump back.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.clock import FakeClock
from devstack.stack import GENERAL, OPERATOR, start_stack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

ROOT = Path(__file__).resolve().parents[1] / "bot"


def layer(module: str) -> int:
    if module.startswith(("usecases/dispatch", "slack/listeners")):
        return 0
    if module.startswith("usecases/"):
        return 1
    if module.startswith(("tpu/", "storage/", "slack/")):
        return 2
    return 3  # core, config


def main() -> None:
    clock = FakeClock()
    emulator = Emulator(clock=clock, op_seconds=10, fleet=60, projects=3)
    server = serve(emulator)
    stack = start_stack(Path(tempfile.mkdtemp()), emulator, server, clock)
    node = next(
        n
        for n in emulator.node_names("ml-prod")
        if emulator.get_node(n)["state"] == "READY"
        and emulator.get_node(n)["acceleratorType"].endswith("-8")
    )
    seen: list[str] = []
    climbs: list[tuple[str, str]] = []

    def profile(frame: object, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code  # type: ignore[attr-defined]
        path = Path(code.co_filename)
        if ROOT not in path.parents:
            return
        module = str(path.relative_to(ROOT))
        caller = frame.f_back  # type: ignore[attr-defined]
        while caller is not None and ROOT not in Path(caller.f_code.co_filename).parents:
            caller = caller.f_back
        if caller is not None:
            above = str(Path(caller.f_code.co_filename).relative_to(ROOT))
            if layer(module) < layer(above):
                climbs.append((above, module))
        if module not in seen:
            seen.append(module)

    sys.setprofile(profile)
    try:
        stack.bot.dispatcher.command(OPERATOR, GENERAL, f"stop {node} walk", clock())
    finally:
        sys.setprofile(None)
        stack.close()
    print(f"files: {len(seen)}")
    for module in seen:
        print(f"  {'  ' * layer(module)}{module}")
    print(f"climbs: {len(climbs)}")
    for above, module in dict.fromkeys(climbs):
        print(f"  {above} -> {module}")


if __name__ == "__main__":
    main()
