"""Pure rules of issue 18: the one scope check, and when an attempt's owner is known dead."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core import scope
from bot.core.liveness import Heartbeat, Replica, why_dead
from bot.core.models import ProjectScope
from devstack.clock import T0

SCOPES = [ProjectScope("ml-prod", ("us-central1-b",)), ProjectScope("ml-infra", ("-",))]


@pytest.mark.parametrize(
    ("project", "zone", "refused"),
    [
        ("ml-prod", "us-central1-b", None),
        ("ml-prod", None, None),
        ("ml-prod", "us-central1-a", "does not manage us-central1-a in ml-prod"),
        ("ml-infra", "asia-east1-c", None),  # "-": every zone
        ("ml-other", "us-central1-b", "`ml-other` is not one this bot manages"),
        (None, "asia-east1-c", None),  # some project manages it
        (None, None, None),
    ],
)
def test_the_scope_check(project: str | None, zone: str | None, refused: str | None) -> None:
    why = scope.problem(project, zone, SCOPES)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_a_zone_no_project_manages_is_refused_without_a_project() -> None:
    narrow = [ProjectScope("ml-prod", ("us-central1-b",))]
    assert (
        scope.problem(None, "us-central1-a", narrow)
        == "The bot manages no project in us-central1-a."
    )
    with pytest.raises(scope.OutOfScope):
        scope.require_name("projects/ml-prod/locations/us-central1-a/nodes/n1", narrow)
    scope.require_name("projects/ml-prod/locations/us-central1-b/queuedResources/q", narrow)


ME = Replica("pod-b", "boot2")
LATER = T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("owner", "beat", "dead"),
    [
        (ME, None, None),  # my own attempt, running
        (Replica("pod-b", "boot1"), None, "restarted"),  # my earlier boot
        (Replica("pod-a", "boot1"), None, None),  # keeps no heartbeat: the timeout decides
        (Replica("pod-a", "boot1"), Heartbeat("boot1", LATER), None),  # beating
        (Replica("pod-a", "boot1"), Heartbeat("boot1", T0), "lapsed"),  # lapsed now
        (Replica("pod-a", "boot1"), Heartbeat("boot7", LATER), "restarted since"),
    ],
)
def test_an_owner_is_dead_only_when_known(
    owner: Replica, beat: Heartbeat | None, dead: str | None
) -> None:
    why = why_dead(owner, ME, beat, T0)
    assert (why is None) if dead is None else (why is not None and dead in why)


def test_owner_tokens_round_trip() -> None:
    assert Replica.parse(ME.token) == ME
    assert Replica.parse("") is None and Replica.parse("no-boot") is None
    assert Replica.parse("host#with#hash#boot") == Replica("host#with#hash", "boot")
