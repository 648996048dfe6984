"""`/tpu whoami` (issue 19's subcommand added through the registry): your roles, what in the
config grants each, and where you may act, over the real bot and localslack."""

from __future__ import annotations

from devstack.stack import ADMIN, OPERATOR, STRANGER, Stack


def test_whoami_says_the_roles_why_and_where(stack: Stack) -> None:
    answer = stack.command(OPERATOR, "whoami")
    assert f"<@{OPERATOR}>: you act as *operator*" in answer.text
    assert "*operator* (granted by <!subteam^S0PLATFORM>)" in answer.text
    assert "*viewer* (granted by <!subteam^S0EVERYONE>)" in answer.text
    assert "ml-prod: every zone" in answer.text
    assert "ml-research: us-central1-b, europe-west4-a, us-central1-a" in answer.text
    admin = stack.command(ADMIN, "whoami")
    assert "you act as *admin*" in admin.text and f"granted by <@{ADMIN}>" in admin.text
    nobody = stack.command(STRANGER, "whoami")
    assert "you act as *none*" in nobody.text and "ask an admin" in nobody.text


def test_whoami_takes_no_arguments(stack: Stack) -> None:
    answer = stack.command(OPERATOR, "whoami please")
    assert "Unexpected" in answer.text and "/tpu whoami" in answer.text
