"""What the layers may say: core and the use cases speak in words and typed parts
(`bot.core.text`), never in Slack's markup; only `bot.slack` knows how things look in Slack.
(import-linter checks what they may import; this checks what their strings hold.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "bot"
# The plain form of a text (logs, the audit log) writes code in backticks, as plain text does.
PLAIN_FORM = Path("bot/core/text.py")
# mrkdwn: code spans, mentions (<@U>, <#C>, <!here>, <!date^...>), *bold*, _italic_ words.
MARKUP = re.compile(r"`|<[@#!]|(?<![\w*])\*[^\s*][^*]*\*(?![\w*])|(?<!\w)_[^\s_][^_]*_(?!\w)")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


@pytest.mark.parametrize("layer", ["core", "usecases"])
def test_core_and_use_cases_say_nothing_in_slack_markup(layer: str) -> None:
    found = [
        f"{path.relative_to(ROOT.parent)}:{line}: {text!r}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, text in _strings(path)
        if MARKUP.search(text) and path.relative_to(ROOT.parent) != PLAIN_FORM
    ]
    assert found == [], "\n".join(found)


def test_the_markup_check_can_fail() -> None:
    for said in ("`node-1` is gone", "<@U0OPER> asked", "you need the *operator* role"):
        assert MARKUP.search(said), said
    for plain in ("projects/p/locations/z/nodes/n", "a * b", "snake_case_name", "2 * 3 * 4"):
        assert not MARKUP.search(plain), plain
