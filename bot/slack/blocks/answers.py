"""Short answers: notices, usage, help, refusals, operation lists and the audit log."""

from slack_sdk.models.blocks import (
    Block,
    HeaderBlock,
)

from bot.core import messages as m
from bot.core.commands import NODE_HELP, QUEUE_HELP, SUBCOMMANDS, Names, Subcommand
from bot.core.names import short_name
from bot.core.operations import Operation
from bot.slack.blocks.kit import (
    _TONES,
    MAX_BLOCKS,
    MAX_HEADER,
    Rendered,
    _context,
    _message,
    _plain,
    _section,
    _sections,
    clip,
    esc,
    md,
    render,
    user,
    when,
)


@render.register
def _(message: m.Notice) -> Rendered:
    text = _TONES.get(message.tone, "") + md(message.text)
    return _message(text, [_section(text)])


@render.register
def _(message: m.Usage) -> Rendered:
    text = f":grey_question: {md(message.problem)}\nUsage: `{message.usage}`"
    if message.hint:
        text += f"\n{md(message.hint)}"
    return _message(text, [_section(text), _context("`/tpu help` lists every command.")])


def _help_line(spec: Subcommand, indent: str = "") -> str:
    return f"`{spec.usage}`\n{indent}{spec.summary}"


@render.register
def _(message: m.HelpText) -> Rendered:
    if message.topic:
        group = [s for s in SUBCOMMANDS if s.name.startswith(f"{message.topic} ")]
        topics = group or [s for s in SUBCOMMANDS if s.name == message.topic]
        text = "\n".join(_help_line(s) for s in topics)
        names = {s.names for s in topics}
        if Names.NODE in names:
            text += f"\n{md(NODE_HELP)}"
        if Names.QUEUED in names:
            text += f"\n{md(QUEUE_HELP)}"
        return _message(text, [_section(text)])
    lines = [_help_line(s, "      ") for s in SUBCOMMANDS]
    blocks: list[Block] = [
        HeaderBlock(text=_plain("/tpu: Cloud TPU nodes from Slack", MAX_HEADER)),
        *_sections(lines, MAX_BLOCKS - 3),
        _context(md(NODE_HELP), "Destructive actions may wait for an approver."),
    ]
    return _message("/tpu commands: " + ", ".join(s.name for s in SUBCOMMANDS), blocks)


@render.register
def _(message: m.Refusal) -> Rendered:
    text = f":no_entry: {md(message.reason)}"
    return _message(text, [_section(text)])


@render.register
def _(message: m.Identity) -> Rendered:
    roles = [f"*{esc(role)}* (granted by {_principal(why)})" for role, why in message.granted]
    lines = [
        f"{user(message.user)}: you act as *{esc(message.role)}*.",
        "Your roles: " + ("; ".join(roles) if roles else "none: ask an admin to add you."),
        "Where you may act:",
        *[
            f"• {esc(project)}: "
            + ("every zone" if "-" in zones else ", ".join(esc(z) for z in zones))
            for project, zones in message.scopes
        ],
    ]
    text = "\n".join(lines)
    return _message(text, [_section(text)])


def _principal(entry: str) -> str:
    if entry == "*":
        return "everyone"
    return f"<!subteam^{entry}>" if entry.startswith("S") else user(entry)


def _operation_line(op: Operation) -> str:
    if not op.done:
        status = ":gear: running"
    elif op.error is None:
        status = ":white_check_mark: done"
    else:
        status = f":x: {op.error.code_name}: {esc(clip(op.error.message, 120))}"
    return (
        f"• {esc(op.verb or '?')} `{esc(short_name(op.target))}` {when(op.create_time)}: {status}"
    )


@render.register
def _(message: m.OperationList) -> Rendered:
    scope = f" on `{esc(short_name(message.node))}`" if message.node else ""
    if not message.operations:
        text = f"No operations{scope}."
        return _message(text, [_section(text)])
    ops = sorted(message.operations, key=lambda o: o.name, reverse=True)[:40]
    lines = [_operation_line(op) for op in ops]
    blocks: list[Block] = [HeaderBlock(text=_plain("Operations", MAX_HEADER))]
    blocks += _sections(lines, MAX_BLOCKS - 1)
    return _message(f"{len(message.operations)} operations{scope}", blocks)


@render.register
def _(message: m.AuditList) -> Rendered:
    if not message.entries:
        return _message("The audit log is empty.", [_section("The audit log is empty.")])
    lines = [
        f"• {when(e.at)} {user(e.user)} *{esc(e.action)}* `{esc(short_name(e.target))}`: "
        f"{esc(e.outcome)}" + (f" ({esc(clip(e.detail, 200))})" if e.detail else "")
        for e in message.entries
    ]
    blocks: list[Block] = [HeaderBlock(text=_plain("Audit log", MAX_HEADER))]
    blocks += _sections(lines, MAX_BLOCKS - 1)
    return _message(f"Latest {len(message.entries)} audit entries", blocks)
