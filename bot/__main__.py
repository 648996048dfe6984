"""The `tpu-bot` command line, and the one place where objects are wired together."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from bot.emulator import Emulator
from bot.emulator.server import EmulatorApp
from bot.httpserver import make_wsgi_server


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


@click.group()
@click.option("--log-level", default="INFO", show_default=True)
def cli(log_level: str) -> None:
    """tpu-bot: Cloud TPU nodes from Slack."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


def _run_emulator(host: str, port: int, fleet: int, projects: int, op_seconds: float) -> Any:
    emulator = Emulator(fleet=fleet, projects=projects, op_seconds=op_seconds)
    return emulator, make_wsgi_server(EmulatorApp(emulator), host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True, type=int)
@click.option("--fleet", default=0, show_default=True, type=int, help="Seed this many nodes.")
@click.option("--projects", default=3, show_default=True, type=int, help="Spread over this many.")
@click.option("--op-seconds", default=5.0, show_default=True, type=float)
def emulator(host: str, port: int, fleet: int, projects: int, op_seconds: float) -> None:
    """Serve a local Cloud TPU v1alpha1 API."""
    emu, server = _run_emulator(host, port, fleet, projects, op_seconds)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}"
    click.echo(f"TPU API emulator on {url}/v1alpha1/ with {len(emu.node_names())} nodes")
    click.echo(f"  admin: {url}/emulator/v1/stats | /faults | /reset | NODE:inject")
    _serve_until_signal(server)


def _serve_until_signal(server: Any) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    server.server_close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Everything local: for now the TPU API emulator with a seeded fleet."""
    emu, server = _run_emulator(host, port, fleet=36, projects=3, op_seconds=5.0)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}"
    click.echo(f"TPU API emulator with {len(emu.node_names())} nodes: {url}/v1alpha1/")
    click.echo(f"  try: curl -s {url}/v1alpha1/projects/ml-prod/locations/-/nodes")
    click.echo(f"  or:  TPU_API_ENDPOINT={url} python -c 'from bot.tpu import TpuClient; ...'")
    click.echo("Ctrl-C to stop.")
    _serve_until_signal(server)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="tpu-bot")


if __name__ == "__main__":
    main()
