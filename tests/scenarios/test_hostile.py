"""Hostile input on the Slack endpoint: whatever the body, signed with the right secret or not,
the answer is never a 5xx, the bot stays up, and no node changes."""

from __future__ import annotations

import hmac
import json
import time
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime.metrics import Metrics
from bot.runtime.web import WebApp
from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.stack import ADMIN, VIEWER, Stack
from localslack import SIGNING_SECRET

HYPOTHESIS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
READS = (".list", ".get", "getGuestAttributes")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
action_ids = st.sampled_from(
    [
        ActionId.STOP,
        ActionId.START,
        ActionId.DELETE,
        ActionId.REIMAGE,
        ActionId.APPROVE,
        ActionId.PAGE_NEXT,
    ]
) | st.text(max_size=12)
slack_shaped = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "block_actions",
                "interactive_message",
                "dialog_submission",
                "view_submission",
                "shortcut",
                "event_callback",
                "url_verification",
            ]
        )
        | json_values,
        "user": st.fixed_dictionaries({"id": st.sampled_from([ADMIN, VIEWER]) | json_values})
        | json_values,
        "actions": st.lists(
            st.fixed_dictionaries(
                {"action_id": action_ids | json_values, "value": json_values | st.text()},
                optional={"block_id": json_values, "selected_option": json_values},
            )
            | json_values,
            max_size=3,
        )
        | json_values,
    },
    optional={
        "channel": json_values,
        "container": json_values,
        "view": json_values,
        "event": json_values,
        "team": json_values,
        "enterprise": json_values,
        "authorizations": json_values,
        "response_url": json_values,
        "challenge": json_values,
        "callback_id": st.text(max_size=8) | json_values,
        "command": st.just("/tpu") | json_values,
    },
)
form_bodies = st.dictionaries(
    st.sampled_from(["command", "text", "user_id", "channel_id", "response_url", "payload"])
    | st.text(max_size=10),
    st.text(max_size=40),
).map(urlencode)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    form_bodies.map(str.encode),
    (json_values | slack_shaped).map(lambda v: urlencode({"payload": json.dumps(v)}).encode()),
    (json_values | slack_shaped).map(lambda v: json.dumps(v).encode()),
)
content_types = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
)


FORM = "application/x-www-form-urlencoded"


def post(url: str, body: bytes, content_type: str, signed: bool) -> int:
    stamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp}
    if content_type:
        headers["Content-Type"] = content_type
    if signed:
        mac = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, "sha256")
        headers["X-Slack-Signature"] = "v0=" + mac.hexdigest()
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_unharmed(stack: Stack) -> None:
    with urllib.request.urlopen(stack.bot.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    calls = admin(stack.emulator_server, "stats")["requests"]
    assert all(method.endswith(READS) for method in calls), calls


def test_random_bodies_never_get_a_5xx(stack: Stack) -> None:
    seen: dict[int, int] = {}

    @HYPOTHESIS
    @given(body=bodies, content_type=content_types, signed=st.booleans())
    def one(body: bytes, content_type: str, signed: bool) -> None:
        status = post(stack.bot.url + "/slack/events", body, content_type, signed)
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (status, body[:200])

    one()
    assert_unharmed(stack)
    assert 400 in seen  # the guard answered some


@pytest.mark.parametrize(
    "payload",
    [
        # Found by the random payloads below: a click whose user is null was a 500.
        {"type": "block_actions", "user": None,
         "actions": [{"action_id": "node_stop", "value": ""}]},
        {"type": "block_actions", "user": "U0ADMIN", "actions": [{"action_id": "node_stop"}]},
        {"type": "block_actions", "user": {"id": 7}, "channel": ["C0"], "actions": [{}]},
        {"type": "block_actions", "container": "view", "view": 3, "actions": [{"action_id": "x"}]},
        {"type": "block_actions", "container": {"type": "view"}, "view": {"type": "home"},
         "user": [], "actions": [{"action_id": "show_usage", "value": "usage"}]},
    ],
)  # fmt: skip
def test_payloads_with_fields_of_the_wrong_shape_get_no_5xx(
    stack: Stack, payload: dict[str, Any]
) -> None:
    text = urlencode({"payload": json.dumps(payload)})
    status = post(stack.bot.url + "/slack/events", text.encode(), FORM, signed=True)
    assert status < 500, status
    assert_unharmed(stack)


def test_random_payloads_signed_never_get_a_5xx(stack: Stack) -> None:
    @HYPOTHESIS
    @given(payload=slack_shaped, as_json=st.booleans())
    def one(payload: dict[str, Any], as_json: bool) -> None:
        text = json.dumps(payload) if as_json else urlencode({"payload": json.dumps(payload)})
        kind = "application/json" if as_json else "application/x-www-form-urlencoded"
        status = post(stack.bot.url + "/slack/events", text.encode(), kind, signed=True)
        assert status < 500, (status, text[:300])

    one()
    assert_unharmed(stack)


def test_known_garbage_gets_400(stack: Stack) -> None:
    url = stack.bot.url + "/slack/events"
    form = "application/x-www-form-urlencoded"
    for body, kind in [
        (b"\xff\xfe\x00", form),
        (b"payload=%7Bnot-json", form),
        (b"payload=%5B1%2C2%5D", form),
        (b"{", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'payload={"type":"block_actions","actions":"x"}', form),
        (b'payload={"type":"block_actions","user":5}', form),
    ]:
        for signed in (True, False):
            assert post(url, body, kind, signed) == 400, body
    assert_unharmed(stack)


class Unreadable:
    """A request body that must not be read."""

    def read(self, *args: Any) -> bytes:
        raise AssertionError("the body was read")


def test_an_oversized_body_gets_413_before_it_is_read(stack: Stack) -> None:
    """The app's own check (any WSGI server); waitress' limit is the same, tested over a real
    process in tests/processes/test_serving.py."""
    web = WebApp(stack.bot.app, Metrics(), lambda: (True, "ok"), max_body_bytes=1024)
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "CONTENT_LENGTH": str(20 * 1024 * 1024),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": Unreadable(),
    }
    body = b"".join(web(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["413 Content Too Large"] and b"limit" in body
    environ["CONTENT_LENGTH"] = "-5"
    web(environ, lambda status, headers: statuses.append(status))
    assert statuses[-1] == "400 Bad Request"
