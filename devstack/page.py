"""The local Slack page: channels, threads and buttons in a browser, driven through localslack.

A typed `/tpu ...` becomes a signed slash command, a click a signed interaction, exactly as Slack
would send them. Chaos actions go to the TPU emulator's admin side.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from importlib import resources
from typing import Any

from localslack.server import LocalSlack
from localslack.workspace import BOT_USER, Message
from tpu_emulator import ApiError, Emulator

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Chaos = Callable[[str], str]


def _message_json(message: Message, names: dict[str, str]) -> dict[str, Any]:
    data = message.to_json()
    data["user_name"] = "tpu-bot" if message.user == BOT_USER else names.get(message.user, "")
    return data


class DemoPage:
    """WSGI app mounted as localslack's `extra`: `/`, `/ui/state`, `/ui/command`, `/ui/click`."""

    def __init__(self, chaos: Chaos | None = None, people: dict[str, str] | None = None) -> None:
        self.slack: LocalSlack | None = None
        self.chaos = chaos
        self.people = people or {}

    def attach(self, slack: LocalSlack) -> None:
        self.slack = slack

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/" and method == "GET":
            html = resources.files("devstack").joinpath("static/index.html").read_bytes()
            return self._send(start_response, "200 OK", html, "text/html; charset=utf-8")
        try:
            if path == "/ui/state" and method == "GET":
                return self._json(start_response, self.state())
            body = self._body(environ)
            if path == "/ui/command" and method == "POST":
                return self._json(start_response, self.command(body))
            if path == "/ui/click" and method == "POST":
                return self._json(start_response, self.click(body))
            if path == "/ui/chaos" and method == "POST" and self.chaos is not None:
                return self._json(
                    start_response, {"ok": True, "did": self.chaos(str(body.get("action")))}
                )
        except (KeyError, LookupError, ValueError) as exc:
            return self._json(start_response, {"ok": False, "error": str(exc)}, "400 Bad Request")
        return self._json(start_response, {"ok": False, "error": "not found"}, "404 Not Found")

    @staticmethod
    def _body(environ: dict[str, Any]) -> dict[str, Any]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    @staticmethod
    def _send(
        start_response: StartResponse, status: str, payload: bytes, content_type: str
    ) -> list[bytes]:
        start_response(
            status,
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [payload]

    def _json(
        self, start_response: StartResponse, body: Any, status: str = "200 OK"
    ) -> list[bytes]:
        return self._send(start_response, status, json.dumps(body).encode(), "application/json")

    def state(self) -> dict[str, Any]:
        assert self.slack is not None
        ws = self.slack.workspace
        names = dict(ws.users)
        return {
            "version": ws.version,
            "channels": [{"id": k, "name": v} for k, v in ws.channels.items()],
            "users": [
                {"id": k, "name": v, "role": self.people.get(k, "")} for k, v in ws.users.items()
            ],
            "messages": [_message_json(m, names) for m in ws.snapshot()],
            "chaos": self.chaos is not None,
        }

    def command(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.slack is not None
        text = str(body["text"]).strip()
        if text.startswith("/tpu"):
            text = text[len("/tpu") :].strip()
        delivery = self.slack.slash(str(body["user"]), text, str(body["channel"]))
        return {"ok": delivery.status == 200, "status": delivery.status}

    def click(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.slack is not None
        message = self.slack.workspace.find(str(body["channel"]), str(body["ts"]))
        if message is None:
            raise LookupError("no such message")
        delivery = self.slack.click(
            str(body["user"]),
            message,
            str(body["action_id"]),
            value=body.get("value"),
            selected=body.get("selected"),
        )
        return {"ok": delivery.status == 200, "status": delivery.status}


def emulator_chaos(
    emulator: Emulator,
    watched: Callable[[str], bool] = lambda name: True,
    rng: random.Random | None = None,
) -> Chaos:
    """Chaos through the emulator's admin side: preempt, sicken, add symptoms, cut a zone, heal.
    Only nodes the bot watches are broken, so every act of chaos shows up in Slack. A zone cut off
    answers nothing, to the bot as to us: chaos then works on the zones that still answer, and
    `heal` reconnects every zone before it mends the nodes."""
    rng = rng or random.Random()

    def node(name: str) -> dict[str, Any] | None:
        try:
            return emulator.get_node(name)
        except ApiError:  # its zone is cut off, or it was deleted meanwhile
            return None

    def healthy() -> list[str]:
        cut = set(emulator.faults.unreachable)
        names = []
        for name in emulator.node_names():
            if not watched(name) or name.split("/")[3] in cut:
                continue
            found = node(name)
            if found and found["state"] == "READY" and found.get("health") == "HEALTHY":
                names.append(name)
        return names

    def act(action: str) -> str:
        if action == "heal":
            return _heal(emulator, node)
        if action == "unreachable":
            return _cut_a_zone(emulator, watched, rng)
        if action not in ("preempt", "unhealthy", "symptom", "storm"):
            raise ValueError(f"unknown chaos {action!r}")
        names = healthy()
        if not names:
            return "no healthy node left in a zone that answers"
        return _break(emulator, action, rng.choice(names), names, rng)

    return act


def _heal(emulator: Emulator, node: Callable[[str], dict[str, Any] | None]) -> str:
    emulator.set_faults({"unreachable": []})  # first: the nodes of a cut zone answer again
    fixed = 0
    for name in emulator.node_names():
        found = node(name)
        if found is None:
            continue
        if found["state"] in ("PREEMPTED", "TERMINATED") or found.get("health") not in (
            None,
            "HEALTHY",
        ):
            emulator.inject(
                name,
                {"state": "READY", "health": "HEALTHY", "healthDescription": "", "symptoms": []},
            )
            fixed += 1
    return f"healed {fixed} nodes and every zone"


def _cut_a_zone(emulator: Emulator, watched: Callable[[str], bool], rng: random.Random) -> str:
    cut = list(emulator.faults.unreachable)
    zones = sorted({n.split("/")[3] for n in emulator.node_names() if watched(n)} - set(cut))
    if not zones:
        return "every zone is cut off already"
    zone = rng.choice(zones)
    emulator.set_faults({"unreachable": [*cut, zone]})
    return f"{zone} does not answer"


def _break(emulator: Emulator, action: str, name: str, names: list[str], rng: random.Random) -> str:
    if action == "preempt":
        emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    elif action == "unhealthy":
        emulator.inject(
            name,
            {
                "health": rng.choice(["TIMEOUT", "UNHEALTHY_TENSORFLOW"]),
                "healthDescription": "the node agent stopped answering",
            },
        )
    elif action == "symptom":
        symptom = {"symptomType": "OUT_OF_MEMORY", "workerId": "0", "details": "chaos"}
        emulator.inject(name, {"symptoms": [symptom]})
    else:  # storm
        zone = name.split("/")[3]
        victims = [n for n in names if n.split("/")[3] == zone][:8]
        for victim in victims:
            emulator.inject(victim, {"state": "PREEMPTED", "health": ""})
        return f"preempted {len(victims)} nodes in {zone}"
    return f"{action}: {name.split('/nodes/')[1]}"
