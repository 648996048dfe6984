from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import Node, NodeState
from bot.core.noderef import (
    AmbiguousNode,
    InvalidNodeRef,
    NodeRef,
    NodeRefError,
    UnknownNode,
    parse_ref,
    resolve,
)


def node(project: str, zone: str, node_id: str) -> Node:
    return Node(
        name=f"projects/{project}/locations/{zone}/nodes/{node_id}",
        accelerator_type="v2-8",
        tensorflow_version="2.12.0",
        state=NodeState.READY,
    )


FLEET = [
    node("ml-prod", "us-central1-b", "trainer"),
    node("ml-prod", "europe-west4-a", "trainer"),
    node("ml-research", "us-central1-b", "sweeper"),
    node("ml-research", "us-central1-b", "eval-1"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trainer", NodeRef("trainer")),
        (" trainer ", NodeRef("trainer")),
        ("us-central1-b/trainer", NodeRef("trainer", "us-central1-b")),
        ("ml-prod/us-central1-b/trainer", NodeRef("trainer", "us-central1-b", "ml-prod")),
        (
            "projects/ml-prod/locations/us-central1-b/nodes/trainer",
            NodeRef("trainer", "us-central1-b", "ml-prod"),
        ),
    ],
)
def test_parse(text: str, expected: NodeRef) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    "text", ["", "/", "a/b/c/d", "Trainer", "us-central1-b/", "x/ /y", "no_pe"]
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidNodeRef):
        parse_ref(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sweeper", "projects/ml-research/locations/us-central1-b/nodes/sweeper"),
        ("europe-west4-a/trainer", "projects/ml-prod/locations/europe-west4-a/nodes/trainer"),
        ("ml-prod/us-central1-b/trainer", "projects/ml-prod/locations/us-central1-b/nodes/trainer"),
    ],
)
def test_resolve_one(text: str, expected: str) -> None:
    assert resolve(parse_ref(text), FLEET).name == expected


def test_ambiguous_lists_every_candidate() -> None:
    with pytest.raises(AmbiguousNode) as caught:
        resolve(parse_ref("trainer"), FLEET)
    assert caught.value.candidates == (
        "ml-prod/europe-west4-a/trainer",
        "ml-prod/us-central1-b/trainer",
    )


def test_unknown_suggests_close_names_and_says_when_data_was_partial() -> None:
    with pytest.raises(UnknownNode) as caught:
        resolve(parse_ref("sweeperr"), FLEET, partial=True)
    assert caught.value.candidates == ("ml-research/us-central1-b/sweeper",)
    assert "did not answer" in caught.value.message
    with pytest.raises(UnknownNode) as nothing:
        resolve(parse_ref("zzz"), FLEET)
    assert nothing.value.candidates == ()


@given(st.text(max_size=80))
def test_any_text_resolves_or_explains(text: str) -> None:
    try:
        found = resolve(parse_ref(text), FLEET)
    except NodeRefError as exc:
        assert exc.message
    else:
        assert found in FLEET
