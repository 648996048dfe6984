"""The approval state machine on port fakes: the branches end-to-end scenarios cannot reach
cheaply (API errors after approval, retries, cut-off attempts, lost responses, races)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.core import messages as m
from bot.core.models import NodeState
from bot.core.records import ApprovalStatus
from bot.slack.blocks.kit import md
from bot.usecases import approvals
from bot.usecases.ports import FailedPrecondition, NotFound, PermissionDenied, Unavailable
from tests.fakes import Crash
from tests.unit.usecase_world import APPROVER, NODE, OPERATOR, World, make_world

S = ApprovalStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def text(message: m.Message) -> str:
    return str(message)


def test_approve_runs_it_once_and_tells_thread_requester_and_request(world: World) -> None:
    approval = world.request_stop()
    assert world.redraws(approval) == [] and world.status(approval) is S.PENDING
    answer = world.approve(approval)
    assert "started" in text(answer)
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.operation and world.tpu.calls["stop_node"] == 1
    assert world.tpu.nodes[NODE].state is NodeState.STOPPING
    assert world.redraws(approval)[-1] is S.EXECUTED
    assert any(isinstance(r, m.OperationStarted) for r in world.thread(approval))
    assert any("approved your request" in text(t) for t in world.outbox.told(OPERATOR))
    tracked = world.store.get_operation(final.operation)
    assert tracked is not None and tracked.approval_id == approval.id


def test_a_refused_action_fails_with_the_apis_reason(world: World) -> None:
    world.tpu.fail("stop_node", PermissionDenied("Permission 'tpu.nodes.stop' denied", http=403))
    answer = world.approve(approval := world.request_stop())
    assert "not run" in text(answer)
    final = world.approval(approval)
    assert final.status is S.FAILED and "PERMISSION_DENIED" in final.outcome
    assert world.redraws(approval)[-1] is S.FAILED
    assert any("tpu.nodes.stop" in text(r) for r in world.thread(approval))
    assert any("not run" in text(t) for t in world.outbox.told(OPERATOR))
    assert world.resume() == 0 and world.tpu.calls["stop_node"] == 1


def test_api_down_at_approval_then_back_runs_it_once_after_backoff(world: World) -> None:
    approval = world.request_stop()
    world.tpu.fail("get_node", Unavailable("503 from the API", http=503), times=1)
    answer = world.approve(approval)
    assert "keeps trying" in text(answer)
    waiting = world.approval(approval)
    assert waiting.status is S.APPROVED and "UNAVAILABLE" in waiting.last_error
    assert world.tpu.calls["stop_node"] == 0
    assert [r for r in world.thread(approval) if "keeps trying" in text(r)]
    world.later(10)
    assert world.resume() == 0  # not due before its backoff
    world.later(5)
    assert world.resume() == 1
    assert world.status(approval) is S.EXECUTED and world.tpu.calls["stop_node"] == 1
    assert world.redraws(approval)[-1] is S.EXECUTED


def test_api_down_for_the_stop_itself_is_retried_and_runs_once(world: World) -> None:
    world.tpu.fail("stop_node", Unavailable("503 from the API", http=503))
    world.approve(approval := world.request_stop())
    assert world.status(approval) is S.APPROVED and world.redraws(approval) == [S.APPROVED]
    world.later(15)
    assert world.resume() == 1
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.attempts == 2
    assert world.tpu.calls["stop_node"] == 2 and len(world.tpu.operations) == 1


def test_a_second_request_approved_during_an_outage_does_not_claim_the_firsts_stop(
    world: World,
) -> None:
    world.tpu.fail("get_node", Unavailable("503", http=503), times=2)
    world.approve(first := world.request_stop())
    world.later(1)
    world.approve(second := world.command_stop_again())
    assert world.status(first) is S.APPROVED and world.status(second) is S.APPROVED
    world.later(20)
    assert world.resume() == 2
    assert world.status(first) is S.EXECUTED and world.tpu.calls["stop_node"] == 1
    final = world.approval(second)
    assert final.status is S.REFUSED and "STOPPING now" in final.outcome
    assert not [r for r in world.thread(second) if isinstance(r, m.OperationStarted)]


def test_retry_window_exhausted_ends_failed_with_the_apis_reason(world: World) -> None:
    approval = world.request_stop()
    world.tpu.fail("get_node", Unavailable("backend unavailable", http=503), times=1000)
    world.approve(approval)
    for _ in range(20):
        world.later(60)
        world.resume()
        if world.status(approval) is not S.APPROVED:
            break
    final = world.approval(approval)
    assert final.status is S.FAILED and "kept failing for 5 minutes" in final.outcome
    assert "backend unavailable" in final.outcome and world.tpu.calls["stop_node"] == 0
    replies = [text(r) for r in world.thread(approval)]
    assert len([r for r in replies if "keeps trying" in r]) == 1  # one warning, not one per try
    assert any("Not run" in r and "backend unavailable" in r for r in replies)
    assert any("backend unavailable" in text(t) for t in world.outbox.told(OPERATOR))
    assert world.redraws(approval)[-1] is S.FAILED


def test_a_node_gone_at_the_recheck_is_refused(world: World) -> None:
    approval = world.request_stop()
    del world.tpu.nodes[NODE]
    world.approve(approval)
    final = world.approval(approval)
    assert final.status is S.REFUSED and "no longer exists" in final.outcome
    assert world.tpu.calls["stop_node"] == 0 and world.redraws(approval)[-1] is S.REFUSED


def test_a_node_changed_meanwhile_is_refused(world: World) -> None:
    approval = world.request_stop()
    world.tpu.add_node(NODE, state=NodeState.PREEMPTED)
    answer = world.approve(approval)
    assert "READY when requested and is PREEMPTED now" in text(answer)
    assert world.status(approval) is S.REFUSED and world.tpu.calls["stop_node"] == 0
    assert any("PREEMPTED" in text(r) for r in world.thread(approval))


def test_a_cut_off_attempt_is_taken_over_once_stale(world: World) -> None:
    approval = world.request_stop()
    world.tpu.fail("get_node", Crash())  # the process dies during the re-check
    with pytest.raises(Crash):
        world.approve(approval)
    assert world.status(approval) is S.EXECUTING
    world.later(30)
    assert world.resume() == 0  # maybe still alive: spared until the attempt timeout
    world.later(31)
    assert world.resume() == 1
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.attempts == 2
    assert world.tpu.calls["stop_node"] == 1 and world.redraws(approval)[-1] is S.EXECUTED


def test_a_cut_off_attempt_whose_call_went_through_adopts_its_operation(world: World) -> None:
    approval = world.request_stop()
    world.tpu.fail("stop_node", Crash(), after_apply=True)  # stopped, then the process died
    with pytest.raises(Crash):
        world.approve(approval)
    (earlier,) = world.tpu.operations
    world.later(61)
    assert world.resume() == 1
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.operation == earlier
    assert world.tpu.calls["stop_node"] == 1
    assert any(isinstance(r, m.OperationStarted) for r in world.thread(approval))


def test_the_database_lost_after_the_api_accepted_is_resumed_by_adoption(world: World) -> None:
    gone = sa.exc.OperationalError(
        "UPDATE approvals", {}, Exception("server closed the connection")
    )
    world.store.fail_transition(S.EXECUTED, gone)
    with pytest.raises(sa.exc.OperationalError):
        world.approve(approval := world.request_stop())
    assert world.status(approval) is S.EXECUTING and world.tpu.calls["stop_node"] == 1
    world.later(61)
    assert world.resume() == 1
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.operation in world.tpu.operations
    assert world.tpu.calls["stop_node"] == 1
    started = [r for r in world.thread(approval) if isinstance(r, m.OperationStarted)]
    assert len(started) == 1


def test_a_lost_response_retried_into_failed_precondition_adopts_the_operation(
    world: World,
) -> None:
    # The client's retry of a stop whose answer was lost meets "an operation is in progress".
    busy = FailedPrecondition("Node is STOPPING: an operation is in progress", http=400)
    world.tpu.fail("stop_node", busy, after_apply=True)
    world.approve(approval := world.request_stop())
    final = world.approval(approval)
    (earlier,) = world.tpu.operations
    assert final.status is S.EXECUTED and final.operation == earlier
    assert world.tpu.calls["stop_node"] == 1


def test_a_lost_response_answered_503_is_adopted_on_the_retry(world: World) -> None:
    world.tpu.fail("stop_node", Unavailable("connection reset", http=503), after_apply=True)
    world.approve(approval := world.request_stop())
    assert world.status(approval) is S.APPROVED
    world.later(15)
    assert world.resume() == 1
    final = world.approval(approval)
    assert final.status is S.EXECUTED and final.operation in world.tpu.operations
    assert world.tpu.calls["stop_node"] == 1


def test_failed_precondition_without_an_operation_of_ours_fails(world: World) -> None:
    world.tpu.fail("stop_node", FailedPrecondition("Node is busy", http=400))
    world.approve(approval := world.request_stop())
    final = world.approval(approval)
    assert final.status is S.FAILED and "FAILED_PRECONDITION: Node is busy" in final.outcome


def test_an_api_outage_while_looking_for_our_operation_is_retried(world: World) -> None:
    world.tpu.fail("stop_node", FailedPrecondition("in progress", http=400), after_apply=True)
    world.tpu.fail("list_operations", Unavailable("503", http=503))
    answer = world.approve(approval := world.request_stop())
    assert "keeps trying" in text(answer) and world.status(approval) is S.APPROVED
    world.later(15)
    assert world.resume() == 1
    assert world.status(approval) is S.EXECUTED and world.tpu.calls["stop_node"] == 1


def test_two_resumes_at_once_run_it_once(world: World) -> None:
    approval = world.request_stop()
    world.tpu.fail("get_node", Crash())
    with pytest.raises(Crash):
        world.approve(approval)
    now = world.later(61)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def resume() -> None:
        barrier.wait()
        counts.append(approvals.resume(world.deps, now))

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert world.status(approval) is S.EXECUTED and world.tpu.calls["stop_node"] == 1
    assert sorted(counts)[-1] == 1
    started = [r for r in world.thread(approval) if isinstance(r, m.OperationStarted)]
    assert len(started) == 1


def test_a_double_click_runs_it_once(world: World) -> None:
    approval = world.request_stop()
    world.approve(approval)
    again = world.approve(approval, user="U0APPR2")
    assert "already executed" in text(again) and world.tpu.calls["stop_node"] == 1


def test_a_duplicate_request_is_answered_with_the_pending_one(world: World) -> None:
    first = world.request_stop()
    posts = len(world.outbox.sent)
    answer = world.command(f"stop {NODE} again", user="U0APPR2")
    # (The mention is drawn by the renderer: the use case says who, not how.)
    assert isinstance(answer, m.Notice) and f"<@{OPERATOR}> already asked" in md(answer.text)
    assert len(world.outbox.sent) == posts
    pending = world.store.pending_request("stop", NODE)
    assert pending is not None and pending.id == first.id


def test_expiry_closes_the_request_and_refuses_a_late_click(world: World) -> None:
    approval = world.request_stop()
    world.later(29 * 60)
    assert approvals.expire(world.deps, world.now) == 0
    world.later(60)
    assert approvals.expire(world.deps, world.now) == 1
    assert world.status(approval) is S.EXPIRED and world.redraws(approval) == [S.EXPIRED]
    assert any("expired" in text(t) for t in world.outbox.told(OPERATOR))
    late = world.approve(approval)
    assert "already expired" in text(late) and world.tpu.calls["stop_node"] == 0
    assert approvals.expire(world.deps, world.now) == 0


def test_denied_is_redrawn_and_never_run(world: World) -> None:
    approval = world.request_stop()
    world.dispatcher.click(APPROVER, "C0ONCALL", f"deny {approval.id}", world.now)
    assert world.status(approval) is S.DENIED and world.redraws(approval) == [S.DENIED]
    assert world.resume() == 0 and world.tpu.calls["stop_node"] == 0


def test_not_found_at_execution_fails_not_retried(world: World) -> None:
    world.tpu.fail("stop_node", NotFound("gone between the check and the call", http=404))
    world.approve(approval := world.request_stop())
    assert world.status(approval) is S.FAILED
    world.later(600)
    assert world.resume() == 0 and world.tpu.calls["stop_node"] == 1


# ----- issue 18: scope at execution, crash takeover by liveness, notes with another way ---------


def test_an_approved_action_outside_the_config_now_is_refused_and_told(world: World) -> None:
    approval = world.request_stop()
    narrowed = world.deps.config.model_copy(
        update={
            "projects": (
                world.deps.config.projects[0].model_copy(update={"locations": ("europe-west4-a",)}),
            )
        }
    )
    world.deps.config = narrowed  # the config changed (a restart) before the approver clicked
    answer = world.approve(approval)
    assert "configuration changed" in text(answer)
    assert world.status(approval) is S.REFUSED and world.tpu.calls["stop_node"] == 0
    assert any("does not manage" in text(msg) for msg in world.thread(approval))


class Liveness:
    """Which owners are dead, as a test says (the real one reads heartbeats)."""

    def __init__(self, me: str) -> None:
        self.mine = me
        self.dead: set[str] = set()

    def me(self) -> str:
        return self.mine

    def why_dead(self, owner: str, now: object) -> str | None:
        return "its heartbeat lapsed" if owner in self.dead else None


def cut_off_attempt(world: World, owner: str) -> str:
    """An approved stop whose attempt `owner` claimed and never finished (a crash mid-call)."""
    world.deps.liveness = Liveness(owner)
    approval = world.request_stop()
    world.tpu.fail("get_node", Crash())  # the process dies during the re-check
    with pytest.raises(Crash):
        world.approve(approval)
    claimed = world.approval(approval)
    assert claimed.status is S.EXECUTING and claimed.attempt_owner == owner
    return approval.id


def test_an_attempt_whose_owner_is_known_dead_is_taken_over_at_once(world: World) -> None:
    approval_id = cut_off_attempt(world, "replica-a#boot1")
    survivor = Liveness("replica-b#boot1")
    world.deps.liveness = survivor
    world.later(5)  # far inside the 60 s attempt timeout
    assert world.resume() == 0  # alive, as far as anyone knows: spared
    survivor.dead.add("replica-a#boot1")
    assert world.resume() == 1
    final = world.store.get_approval(approval_id)
    assert final is not None and final.status is S.EXECUTED
    assert final.attempt_owner == "replica-b#boot1" and world.tpu.calls["stop_node"] == 1


def test_the_attempt_timeout_stays_as_the_last_resort(world: World) -> None:
    approval_id = cut_off_attempt(world, "replica-a#boot1")
    world.deps.liveness = Liveness("replica-b#boot1")  # nothing known of replica-a
    world.later(30)
    assert world.resume() == 0
    world.later(31)
    assert world.resume() == 1
    final = world.store.get_approval(approval_id)
    assert final is not None and final.status is S.EXECUTED


def test_the_requesters_note_names_the_request_thread_as_its_other_way(world: World) -> None:
    approval = world.request_stop()
    world.approve(approval)
    notes = [s for s in world.outbox.sent if s.kind == "ephemeral"]
    root = world.approval(approval).root_outbox
    assert notes and all(s.or_in_thread is not None for s in notes)
    assert {(s.or_in_thread.channel, s.or_in_thread.outbox) for s in notes if s.or_in_thread} == {
        ("C0ONCALL", root)
    }
