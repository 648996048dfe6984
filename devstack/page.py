"""The local Slack page: channels, threads and buttons in a browser, driven through localslack.

A typed `/tpu ...` becomes a signed slash command, a click a signed interaction, exactly as Slack
would send them. Chaos actions go to the TPU emulator's admin side.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from typing import Any

from devstack import compute_chaos
from devstack.usage_chaos import USAGE_CHAOS
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
    """WSGI app mounted as localslack's `extra`: `/`, `/ui/state`, `/ui/command`, `/ui/click`,
    `/ui/home` (a person opens the app's Home tab)."""

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
        if method == "GET" and re.fullmatch(r"/static/[a-z]+\.js", path):
            script = resources.files("devstack").joinpath(path[1:])
            if script.is_file():
                js = "text/javascript; charset=utf-8"
                return self._send(start_response, "200 OK", script.read_bytes(), js)
        try:
            if path == "/ui/state" and method == "GET":
                return self._json(start_response, self.state())
            body = self._body(environ)
            if path == "/ui/command" and method == "POST":
                return self._json(start_response, self.command(body))
            if path == "/ui/click" and method == "POST":
                return self._json(start_response, self.click(body))
            if path == "/ui/home" and method == "POST":
                return self._json(start_response, self.open_home(body))
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
            "homes": {user: ws.home(user) for user in ws.users if ws.home(user)},
            "chaos": self.chaos is not None,
        }

    def command(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.slack is not None
        text = str(body["text"]).strip()
        if text.startswith("/tpu"):
            text = text[len("/tpu") :].strip()
        delivery = self.slack.slash(str(body["user"]), text, str(body["channel"]))
        return {"ok": delivery.status == 200, "status": delivery.status}

    def open_home(self, body: dict[str, Any]) -> dict[str, Any]:
        """The person opened the Home tab: Slack tells the app (app_home_opened)."""
        assert self.slack is not None
        delivery = self.slack.open_home(str(body["user"]))
        return {"ok": delivery.status == 200, "status": delivery.status}

    def click(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.slack is not None
        if body.get("home"):
            delivery = self.slack.click_home(
                str(body["user"]),
                str(body["action_id"]),
                value=body.get("value"),
                selected=body.get("selected"),
            )
            return {"ok": delivery.status == 200, "status": delivery.status}
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
            # A node behind a queued resource is the queue chaos's (its alert is the
            # request's): preempt and friends break nodes that tell their own story.
            if (
                found
                and found["state"] == "READY"
                and found.get("health") == "HEALTHY"
                and not emulator.v2_get_node(name).get("queuedResource")
            ):
                names.append(name)
        return names

    def act(action: str) -> str:
        if action == "heal":
            nodes = _heal(emulator, node, watched)
            return f"{nodes}; {compute_chaos.heal(emulator, watched)}"
        if action == "unreachable":
            return _cut_a_zone(emulator, watched, rng)
        if action in QUEUE_CHAOS:
            return QUEUE_CHAOS[action](emulator, watched, rng)
        if action in compute_chaos.COMPUTE_CHAOS:
            return compute_chaos.COMPUTE_CHAOS[action](emulator, watched, rng)
        if action in USAGE_CHAOS:
            return USAGE_CHAOS[action](emulator, watched, rng)
        if action not in ("preempt", "unhealthy", "symptom", "storm"):
            raise ValueError(f"unknown chaos {action!r}")
        names = healthy()
        if not names:
            return "no healthy node left in a zone that answers"
        return _break(emulator, action, rng.choice(names), names, rng)

    return act


def _heal(
    emulator: Emulator,
    node: Callable[[str], dict[str, Any] | None],
    watched: Callable[[str], bool],
) -> str:
    # First the zones: the nodes of a cut zone answer again, capacity comes back.
    emulator.set_faults({"unreachable": [], "stockout": []})
    fixed = 0
    for name in emulator.node_names():
        found = node(name)
        if found is None:
            continue
        if (
            found["state"] in ("PREEMPTED", "TERMINATED")
            or found.get("health") not in (None, "HEALTHY")
            or found.get("upcomingMaintenance")
        ):
            mended = {
                "state": "READY",
                "health": "HEALTHY",
                "healthDescription": "",
                "symptoms": [],
            }
            emulator.inject(name, {**mended, "upcomingMaintenance": None})
            fixed += 1
    granted = 0
    for name in emulator.queued_resource_names():
        if watched(name) and emulator.get_queued_resource(name)["state"]["state"] != "ACTIVE":
            emulator.inject(name, {"state": "ACTIVE"})  # capacity granted: its nodes appear
            granted += 1
    return f"healed {fixed} nodes, granted {granted} queued resources, every zone answers"


# ----- v2: queued resources and maintenance ---------------------------------------------------


def _v2_vms(emulator: Emulator, watched: Callable[[str], bool]) -> list[dict[str, Any]]:
    cut = set(emulator.faults.unreachable)
    vms = []
    for name in emulator.node_names():
        if not watched(name) or name.split("/")[3] in cut:
            continue
        found = emulator.v2_get_node(name)
        if found.get("apiVersion") == "V2" and found["state"] == "READY":
            vms.append(found)
    return vms


def _queue_stuck(emulator: Emulator, watched: Callable[[str], bool], rng: random.Random) -> str:
    """A request for capacity a zone does not have, queued two hours ago: past any threshold."""
    projects = sorted({n.split("/")[1] for n in emulator.queued_resource_names() if watched(n)})
    if not projects:
        return "no watched project speaks v2"
    zone = "us-east5-a"
    parent = f"projects/{rng.choice(projects)}/locations/{zone}"
    qr_id = f"stuck-{rng.randrange(10**6):06d}"
    spec = {"acceleratorType": "v5p-8", "runtimeVersion": "v2-alpha-tpuv5"}
    body = {"tpu": {"nodeSpec": [{"parent": parent, "nodeId": qr_id, "node": spec}]}}
    emulator.set_faults({"stockout": sorted({*emulator.faults.stockout, zone})})
    emulator.create_queued_resource(parent, qr_id, None, body)
    two_hours_ago = emulator.clock() - timedelta(hours=2)
    emulator.inject(
        f"{parent}/queuedResources/{qr_id}",
        {
            "state": "WAITING_FOR_RESOURCES",
            "createTime": two_hours_ago.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return f"queue stuck: {qr_id} waits for capacity in {zone}"


def _active_queues(emulator: Emulator, watched: Callable[[str], bool]) -> list[str]:
    return [
        n
        for n in emulator.queued_resource_names()
        if watched(n) and emulator.get_queued_resource(n)["state"]["state"] == "ACTIVE"
    ]


def _suspend(emulator: Emulator, watched: Callable[[str], bool], rng: random.Random) -> str:
    active = _active_queues(emulator, watched)
    if not active:
        return "no ACTIVE queued resource to suspend"
    name = rng.choice(active)
    emulator.inject(name, {"state": "SUSPENDED", "stateInitiator": "SERVICE"})
    return f"suspended: {name.rsplit('/', 1)[1]}"


def _maintenance(emulator: Emulator, watched: Callable[[str], bool], rng: random.Random) -> str:
    vms = [v for v in _v2_vms(emulator, watched) if not v.get("upcomingMaintenance")]
    if not vms:
        return "no v2 VM to schedule maintenance on"
    name = rng.choice(vms)["name"]
    start = emulator.clock() + timedelta(hours=6)
    window = {
        "type": "SCHEDULED",
        "maintenanceStatus": "PENDING",
        "windowStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "windowEndTime": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "canReschedule": True,
    }
    emulator.inject(name, {"upcomingMaintenance": window})
    return f"maintenance scheduled: {name.rsplit('/', 1)[1]}"


def _lose_a_slice(emulator: Emulator, watched: Callable[[str], bool], rng: random.Random) -> str:
    """Terminate one node of an ACTIVE queued resource (a multislice one when there is one)."""
    active = [emulator.get_queued_resource(n) for n in _active_queues(emulator, watched)]
    multi = [q for q in active if any("multisliceParams" in s for s in q["tpu"]["nodeSpec"])]
    candidates = multi or active
    if not candidates:
        return "no ACTIVE queued resource to lose a slice of"
    qr = rng.choice(candidates)
    members = [n for n in emulator.node_names() if n.split("/")[1] == qr["name"].split("/")[1]]
    mine = [n for n in members if emulator.v2_get_node(n).get("queuedResource") == qr["name"]]
    if not mine:
        return "that queued resource has no node yet"
    victim = rng.choice(mine)
    emulator.inject(victim, {"state": "TERMINATED", "health": ""})
    return f"lost a slice of {qr['name'].rsplit('/', 1)[1]}: {victim.rsplit('/', 1)[1]}"


QUEUE_CHAOS: dict[str, Callable[[Emulator, Callable[[str], bool], random.Random], str]] = {
    "queue-stuck": _queue_stuck,
    "suspend": _suspend,
    "maintenance": _maintenance,
    "lose-slice": _lose_a_slice,
}


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
