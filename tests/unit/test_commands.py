from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import commands as c
from bot.core.commands import parse
from bot.core.models import Health, NodeState
from bot.core.noderef import NodeRef
from bot.core.queued import QueuedState
from bot.core.roles import Role


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", c.Help()),
        ("help", c.Help()),
        ("help stop", c.Help("stop")),
        ("list", c.ListNodes()),
        (
            "list project=ml-prod zone=us-central1-b state=ready health=timeout label.team=vision",
            c.ListNodes(
                "ml-prod", "us-central1-b", NodeState.READY, Health.TIMEOUT, (("team", "vision"),)
            ),
        ),
        ("list page=3", c.ListNodes(page=3)),
        ("get trainer", c.GetNode(NodeRef("trainer"))),
        ("GET us-central1-b/trainer", c.GetNode(NodeRef("trainer", "us-central1-b"))),
        ("stop trainer", c.Stop(NodeRef("trainer"))),
        (
            "stop trainer job done, saving money",
            c.Stop(NodeRef("trainer"), "job done, saving money"),
        ),
        ("start ml-prod/us-central1-b/t", c.Start(NodeRef("t", "us-central1-b", "ml-prod"))),
        ("reimage trainer 2.12.0", c.Reimage(NodeRef("trainer"), "2.12.0")),
        ("delete trainer 'no longer needed'", c.Delete(NodeRef("trainer"), "no longer needed")),
        (
            "create t1 zone=us-central1-b type=v3-8 version=2.12.0 preemptible label.team=nlp "
            'description="two words" cidr=10.2.0.0/29 network=ml',
            c.Create(
                "t1",
                "us-central1-b",
                "v3-8",
                "2.12.0",
                None,
                True,
                "10.2.0.0/29",
                "ml",
                (("team", "nlp"),),
                "two words",
            ),
        ),
        (
            "create ml-prod/us-east1-d/t2 type=v2-8 version=2.9.1",
            c.Create("t2", "us-east1-d", "v2-8", "2.9.1", "ml-prod"),
        ),
        ("ops", c.Ops()),
        ("ops trainer", c.Ops(NodeRef("trainer"))),
        ("types us-east1-d", c.Types("us-east1-d")),
        ("versions us-east1-d", c.Versions("us-east1-d")),
        ("audit", c.Audit()),
        ("audit 50", c.Audit(50)),
        ("description=\u201ccurly quotes\u201d", None),
    ],
)
def test_parse(text: str, expected: c.Command | None) -> None:
    if expected is None:
        with pytest.raises(c.UsageError):
            parse(text)
    else:
        assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "subcommand", "needle"),
    [
        ("explode", None, "not a /tpu command"),
        ("lsit", None, "Did you mean `/tpu list`"),
        ("help nope", "help", "no `nope`"),
        ("stop", "stop", "needs a NODE"),
        ("stop Bad_Name", "stop", "not a node name"),
        ("get a b", "get", "Unexpected"),
        ("get a zone=x", "get", "not an option"),
        ("reimage trainer 1.15 2.0", "reimage", "exactly one VERSION"),
        ("reimage trainer 1 2", "reimage", "exactly one"),
        ("list state=sleepy", "list", "not known"),
        ("list zone=mars", "list", "not a zone"),
        ("list trainer", "list", "Unexpected"),
        ("list zone=us-east1-d zone=us-east1-d", "list", "twice"),
        ("list label.Team=x", "list", "not a valid label"),
        ("create t1 type=v3-8", "create", "Missing `zone=`, `version=`"),
        ("create t1 zone=us-east1-d type=big version=1", "create", "not an accelerator type"),
        ("create t1 zone=us-east1-d type=v2-8 version=1 cidr=abc", "create", "not a CIDR"),
        ("create us-east1-d/t1 zone=us-central1-b type=v2-8 version=1", "create", "name says"),
        ("audit lots", "audit", "not a count"),
        ("audit 1000", "audit", "not a count"),
        ("types", "types", "one ZONE"),
        ('stop trainer "unclosed', None, "quote"),
    ],
)
def test_usage_errors_name_the_subcommand(text: str, subcommand: str | None, needle: str) -> None:
    with pytest.raises(c.UsageError) as caught:
        parse(text)
    assert caught.value.subcommand == subcommand
    assert needle in caught.value.problem + " " + caught.value.hint
    assert caught.value.usage.startswith("/tpu")


def test_list_round_trips_through_its_text() -> None:
    command = c.ListNodes("ml-prod", "us-east1-d", NodeState.READY, None, (("team", "nlp"),))
    assert parse(command.to_text()) == command


@settings(max_examples=400)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises_anything_else(text: str) -> None:
    try:
        parse(text)
    except c.UsageError as exc:
        assert exc.problem


WORDS = st.sampled_from(
    [
        "list",
        "get",
        "stop",
        "reimage",
        "create",
        "zone=",
        "type=v2-8",
        "label.a=b",
        "state=",
        "'",
        '"',
        "=",
        "x",
        "us-east1-d/x",
        "p/z/x",
        "page=",
        "2.12.0",
        "help",
    ]
)


@settings(max_examples=400)
@given(st.lists(WORDS, max_size=8))
def test_command_like_text_never_raises_anything_else(words: list[str]) -> None:
    try:
        parse(" ".join(words))
    except c.UsageError as exc:
        assert exc.problem


# ----- v2: queued resources, labels, requeue, recreate on a runtime version -------------------

QR = "projects/ml-infra/locations/us-east5-a/queuedResources/pretrain"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("queue list", c.QueueList()),
        (
            "queue list project=ml-infra zone=us-east5-a state=failed page=2",
            c.QueueList("ml-infra", "us-east5-a", QueuedState.FAILED, 2),
        ),
        ("queue get pretrain", c.QueueGet(NodeRef("pretrain"))),
        ("QUEUE GET us-east5-a/pretrain", c.QueueGet(NodeRef("pretrain", "us-east5-a"))),
        (f"queue get {QR}", c.QueueGet(NodeRef("pretrain", "us-east5-a", "ml-infra"))),
        (
            "queue create pretrain zone=us-east5-a type=v5p-128 runtime=v2-alpha-tpuv5",
            c.QueueCreate("pretrain", "us-east5-a", "v5p-128", "v2-alpha-tpuv5"),
        ),
        (
            "queue create ml-infra/us-east5-b/sweep type=v6e-8 runtime=v2-alpha-tpuv6e spot "
            "nodes=4 valid-for=6h",
            c.QueueCreate(
                "sweep", "us-east5-b", "v6e-8", "v2-alpha-tpuv6e", "ml-infra", True, 4, 6 * 3600
            ),
        ),
        ("queue delete pretrain", c.QueueDelete(NodeRef("pretrain"))),
        ("queue delete pretrain force", c.QueueDelete(NodeRef("pretrain"), force=True)),
        ("queue reset us-east5-a/pretrain", c.QueueReset(NodeRef("pretrain", "us-east5-a"))),
        ("requeue pretrain", c.Requeue(NodeRef("pretrain"))),
        (
            "requeue projects/ml-infra/locations/us-east5-a/nodes/vm-1",
            c.Requeue(NodeRef("vm-1", "us-east5-a", "ml-infra"), node=True),
        ),
        (
            "label vm-1 team=vision cost_center=ml-42 env=",
            c.Label(NodeRef("vm-1"), (("team", "vision"), ("env", ""), ("cost_center", "ml-42"))),
        ),
        ("label vm-1 label.team=nlp", c.Label(NodeRef("vm-1"), (("team", "nlp"),))),
        ("recreate vm-1", c.Recreate(NodeRef("vm-1"))),
        (
            "recreate vm-1 runtime=tpu-ubuntu2204-base",
            c.Recreate(NodeRef("vm-1"), "tpu-ubuntu2204-base"),
        ),
        ("help queue", c.Help("queue")),
        ("help queue create", c.Help("queue create")),
        ("help label", c.Help("label")),
    ],
)
def test_parse_v2(text: str, expected: c.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "subcommand", "needle"),
    [
        ("queue", "queue list", "Which queue command"),
        ("queue lsit", None, "Did you mean `/tpu queue list`"),
        ("queue list state=sleepy", "queue list", "not known"),
        ("queue list extra", "queue list", "Unexpected"),
        ("queue get", "queue get", "Give one NAME"),
        ("queue get a b", "queue get", "Unexpected"),
        ("queue get Bad_Name", "queue get", "not a queued resource name"),
        ("queue create q type=v5p-8", "queue create", "Missing `zone=`, `runtime=`"),
        ("queue create q zone=us-east5-a type=big runtime=r", "queue create", "accelerator type"),
        ("queue create q zone=us-east5-a type=v5p-8 runtime=r nodes=1", "queue create", "slice"),
        ("queue create q zone=us-east5-a type=v5p-8 runtime=r nodes=x", "queue create", "slice"),
        (
            "queue create q zone=us-east5-a type=v5p-8 runtime=r valid-for=forever",
            "queue create",
            "not a duration",
        ),
        ("queue create q zone=us-east5-a type=v5p-8 runtime=r cheap", "queue create", "`cheap`"),
        (
            "queue create us-east5-b/q zone=us-east5-a type=v5p-8 runtime=r",
            "queue create",
            "name says",
        ),
        ("queue delete q now", "queue delete", "Only `force`"),
        ("queue reset", "queue reset", "Give one NAME"),
        ("label", "label", "needs a NODE"),
        ("label vm-1", "label", "Which labels"),
        ("label vm-1 Team=x", "label", "not a valid label"),
        ("label vm-1 team=Vision", "label", "not a valid label"),
        ("label vm-1 team", "label", "not key=value"),
        ("label vm-1 team=a label.team=b", "label", "twice"),
        ("recreate vm-1 runtime=a/b", "recreate", "not a runtime version"),
        ("recreate vm-1 version=x", "recreate", "not an option"),
        ("help queue nope", "help", "no `queue nope`"),
    ],
)
def test_v2_usage_errors(text: str, subcommand: str | None, needle: str) -> None:
    with pytest.raises(c.UsageError) as caught:
        parse(text)
    assert caught.value.subcommand == subcommand
    assert needle in caught.value.problem + " " + caught.value.hint
    assert caught.value.usage.startswith("/tpu")


def test_queue_list_round_trips_through_its_text() -> None:
    command = c.QueueList("ml-infra", "us-east5-a", QueuedState.SUSPENDED)
    assert parse(command.to_text()) == command


def test_every_verb_names_a_config_action_and_every_mutation_has_one() -> None:
    """The config's accepted verbs are the declared ones (no list to keep in step by hand)."""
    from pydantic import ValidationError

    from bot.config import ApprovalsConfig

    assert {s.verb for s in c.SUBCOMMANDS if s.verb is not None} == set(c.Verb)
    for verb in c.Verb:
        assert ApprovalsConfig(required_for=(verb.value,)).required_for == (verb,)
    with pytest.raises(ValidationError):
        ApprovalsConfig(required_for=("explode",))  # type: ignore[arg-type]


def test_every_subcommand_is_complete_and_run_by_a_use_case() -> None:
    from bot.usecases import dispatch
    from bot.usecases.registry import HANDLERS, missing

    assert dispatch.Dispatcher  # importing it registers every use case
    assert missing() == []
    for spec in c.SUBCOMMANDS:
        assert spec.usage.startswith(f"/tpu {spec.name}") and spec.summary and spec.does
        assert spec.command in HANDLERS, spec.name
        # Whatever may wait for an approver names its action (what required_for may list).
        if spec.careful_as:
            assert spec.verb is not None and spec.role >= Role.OPERATOR, spec.name
