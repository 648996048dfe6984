"""The ack path's decisions: who is heard, where answers may go, how often, and whether there is
room. Each is answered at once, in the ack or (for clicks) by an ephemeral note on the side lane;
none calls Slack, the database or the TPU API while Slack waits for the ack.

- Identity: the workspace (and Enterprise Grid org) the bot was installed in, from auth.test at
  start (Bolt's authorize result). A request from another workspace or org is refused, and so is
  a click by someone whose home workspace is another one (an external member of a Slack Connect
  channel): roles name the people and user groups of the bot's own workspace.
- response_url: only Slack's hooks host (https://hooks.slack.com, or hooks.<host> of
  SLACK_API_URL) and the SLACK_API_URL host itself; anything else is refused and logged by host.
- Rate: a token bucket per user (`limits:`); admins get a multiple, or none.
- Room: the bounded work queue; full is "busy, try again in N s".
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.context.respond import Respond
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.config import LimitsConfig, RolesConfig
from bot.core.limits import RateLimiter, Recently, wait_words
from bot.core.policy import Role, role_of
from bot.runtime.metrics import Metrics
from bot.slack.work import AckGate, Kind, Request, WorkPool
from bot.usecases.ports import Directory

log = logging.getLogger(__name__)
Audit = Callable[[datetime, str, str, str, str, str], None]
Tell = Callable[[str, str], object]  # (user, text): a line in the person's DMs with the bot
Clock = Callable[[], datetime]
SLACK_HOOKS = "https://hooks.slack.com"
EPISODE_SECONDS = 60.0  # one audit line (and one click note) per user and reason in this time


class Reason(enum.StrEnum):
    """Why a request was answered without running it (the metric's label, the audit outcome)."""

    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    FOREIGN = "foreign_team"
    RESPONSE_URL = "response_url"


class ResponseUrls:
    """Where the bot may post answers: Slack's hooks host and the configured Slack API host."""

    def __init__(self, slack_api_url: str) -> None:
        api = urlsplit(slack_api_url)
        host = (api.hostname or "").removeprefix("www.")
        self.allowed_origins = {
            SLACK_HOOKS,
            f"https://hooks.{host}",
            f"{api.scheme}://{api.netloc}".lower(),
        }

    def allows(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}".lower()
        except ValueError:
            return False
        return origin in self.allowed_origins and not parts.username and not parts.password

    @staticmethod
    def host_of(url: str) -> str:
        """The host alone, for the log: the path of a response_url is a secret."""
        try:
            return urlsplit(url).hostname or "(none)"
        except ValueError:
            return "(unparsable)"


def foreign(
    installed_team: str | None,
    installed_org: str | None,
    team: str | None,
    org: str | None,
    user_team: str | None,
) -> str | None:
    """Why a request is not from the bot's own workspace (None: it is). An id the payload
    leaves out is no mismatch; an org named by a request to a bot outside any org is one."""
    if installed_team and team and team != installed_team:
        return f"workspace {team}"
    if org and org != installed_org:
        return f"org {org}"
    if installed_team and user_team and user_team != installed_team:
        return f"a user of workspace {user_team}"
    return None


class SeenGroups:
    """The Directory port, remembering each user's groups as the work path looked them up, so
    the ack path can tell an admin without a Slack call."""

    def __init__(self, inner: Directory) -> None:
        self.inner = inner
        self._seen: dict[str, frozenset[str]] = {}

    def groups_of(self, user: str) -> set[str]:
        groups = self.inner.groups_of(user)
        self._seen[user] = frozenset(groups)
        return groups

    def cached(self, user: str) -> Collection[str]:
        return self._seen.get(user, frozenset())

    def remember(self, user: str, groups: Collection[str]) -> None:
        """What a lookup elsewhere (the work process) found."""
        self._seen[user] = frozenset(groups)


class Ingress:
    """Admits a command or a click into the work queue, or says at once why not."""

    def __init__(
        self,
        limits: LimitsConfig,
        roles: RolesConfig,
        work: WorkPool,
        urls: ResponseUrls,
        *,
        metrics: Metrics | None = None,
        audit: Audit | None = None,
        seen: SeenGroups | None = None,
        tell: Tell | None = None,
        clock: Clock,
        seconds: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.roles = roles
        self.work = work
        self.urls = urls
        self.metrics = metrics
        self.audit = audit
        self.seen = seen
        self.tell = tell
        self.clock = clock
        self.seconds = seconds  # the limiter's time: any steady clock, in seconds
        self.limiter = RateLimiter(limits.commands_per_minute, limits.burst)
        self._episodes = Recently(EPISODE_SECONDS)
        self._lock = threading.Lock()

    def admit(self, request: Request) -> str | None:
        """Queue `request`'s work, or refuse it: the text to ack with (None: say nothing)."""
        answered_by_url = request.kind.answers_by_response_url
        if answered_by_url and not self.urls.allows(request.response_url):
            host = self.urls.host_of(request.response_url)  # never the path: it is a secret
            log.warning(
                "slack: refused a %s by %s: its response_url is on %s, not Slack's",
                request.kind.value,
                request.user,
                host,
            )
            self.refused(request, Reason.RESPONSE_URL, f"response_url on {host}")
            return None  # nowhere safe to answer: the user gets nothing
        scale = self._scale(request.user)
        if scale is not None:
            with self._lock:
                verdict = self.limiter.take(request.user, self.seconds(), scale)
            if not verdict.allowed:
                per_minute = self.limits.commands_per_minute * scale
                text = (
                    f"You are sending commands faster than the bot takes them "
                    f"({per_minute:g} a minute, {self.limits.burst * scale:g} at once); "
                    f"nothing was run. Try again in {wait_words(verdict.retry_after)}."
                )
                return self._refuse(request, Reason.RATE_LIMITED, text)
        if not self.work.offer(request):
            wait = wait_words(self.work.retry_after())
            text = f"The bot is busy with other requests; nothing was run. Try again in {wait}."
            return self._refuse(request, Reason.BUSY, text)
        return None

    def _scale(self, user: str) -> float | None:
        """How much of the rate `user` gets (None: not limited)."""
        groups = self.seen.cached(user) if self.seen is not None else ()
        if role_of(user, groups, self.roles) is not Role.ADMIN:
            return 1.0
        return self.limits.admin_multiplier

    def _refuse(self, request: Request, reason: Reason, text: str) -> str | None:
        """Count, audit (once a minute per user and reason); a command's ack says it, a click
        gets a note (as often): through response_url, or in their DMs for a Home tab click
        (the answer to an accepted one goes there too). Opening the tab is drawn again later."""
        first = self.refused(request, reason, text)
        if request.kind is Kind.COMMAND:
            return text
        if not first:
            return None
        if request.kind.answers_by_response_url:
            self.work.aside(lambda: note(request.response_url, text))
        elif request.kind is Kind.HOME_CLICK and self.tell is not None:
            tell, user = self.tell, request.user

            def told() -> None:
                tell(user, text)

            self.work.aside(told)
        return None

    def refused(self, request: Request, reason: Reason, detail: str) -> bool:
        """Count the refusal; audit it unless this user was refused for it in the last minute
        (True: audited)."""
        if self.metrics is not None:
            self.metrics.refused.labels(reason=reason.value).inc()
        with self._lock:
            first = self._episodes.first(f"{reason.value}:{request.user}", self.seconds())
        if first and self.audit is not None:
            audit, now = self.audit, self.clock()
            action = request.kind.value if not request.action else f"click {request.action}"
            entry = (now, request.user, action[:64], request.text[:200], reason.value, detail)
            self.work.aside(lambda: audit(*entry))
        return first


def note(response_url: str, text: str) -> None:
    """An ephemeral line through response_url (the URL was checked by the caller)."""
    response = Respond(response_url=response_url)(text=text, response_type="ephemeral")
    if getattr(response, "status_code", 200) != 200:
        log.warning("slack: a note via response_url was refused: HTTP %s", response.status_code)


def identity_guard(ingress: Ingress) -> Callable[..., Any]:
    """A Bolt global middleware: refuse requests from another workspace or org (commands: in the
    ack; clicks: an ephemeral note; events: a plain 200, so Slack does not retry them)."""

    def guard(context: Any, body: dict[str, Any], next: Callable[[], Any]) -> Any:
        installed = context.authorize_result
        user = body.get("user")
        why = foreign(
            getattr(installed, "team_id", None),
            getattr(installed, "enterprise_id", None),
            context.team_id,
            context.enterprise_id,
            user.get("team_id") if isinstance(user, dict) else None,
        )
        if why is None:
            return next()
        command = "command" in body and "text" in body
        request = Request(
            Kind.COMMAND if command else Kind.CLICK,
            str(context.user_id or ""),
            str(context.channel_id or ""),
            str(body.get("text") or body.get("type") or "")[:200],
            str(body.get("response_url") or ""),
        )
        text = "This bot serves only the workspace it is installed in; nothing was run."
        first = ingress.refused(request, Reason.FOREIGN, why)
        if command:
            payload = json.dumps({"response_type": "ephemeral", "text": text})
            return BoltResponse(
                status=200, body=payload, headers={"content-type": "application/json"}
            )
        if first and request.response_url and ingress.urls.allows(request.response_url):
            ingress.work.aside(lambda: note(request.response_url, text))
        return BoltResponse(status=200, body="")

    return guard


class GatedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, telling the gate from an envelope's arrival to its ack, so the
    work holds back while Slack waits (HTTP mode: the web app does it)."""

    def __init__(self, app: App, app_token: str, gate: AckGate) -> None:
        super().__init__(app, app_token)
        self.gate = gate
        self.client.on_message_listeners.append(self._arrived)

    def _arrived(self, raw: str) -> None:
        if '"envelope_id"' in raw:  # a request to ack (not hello, not a disconnect notice)
            self.gate.enter()

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            super().handle(client, req)
        finally:
            self.gate.leave()
