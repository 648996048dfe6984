from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import commands as c
from bot.core.models import Health, NodeState
from bot.core.noderef import NodeRef
from bot.core.parsing import parse


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
