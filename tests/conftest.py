"""Shared fixtures: real servers on free ports, an injectable clock, a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.tpu.client import TpuClient
from devstack.admin import admin
from devstack.clock import T0, FakeClock
from devstack.waiting import eventually
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve

__all__ = ["T0", "FakeClock", "admin", "eventually"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's or CI's Slack/TPU settings."""
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "TPU_API_ENDPOINT",
        "MONITORING_API_ENDPOINT",
        "COMPUTE_API_ENDPOINT",
        "TPUBOT_CONFIG",
        "TPUBOT_DATABASE_URL",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=10, fleet=60, projects=3)


@pytest.fixture
def emulator_server(emulator: Emulator) -> Iterator[RunningServer]:
    server = serve(emulator)
    yield server
    server.close()


@pytest.fixture
def mixed_emulator(clock: FakeClock) -> Emulator:
    """Five projects: v1alpha1 TPU Nodes in the first three, v2 TPU VMs and queued resources in
    the rest; operations finish as soon as they are asked about (op_seconds=0)."""
    return Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)


@pytest.fixture
def mixed_server(mixed_emulator: Emulator) -> Iterator[RunningServer]:
    server = serve(mixed_emulator)
    yield server
    server.close()


@pytest.fixture
def tpu(emulator_server: RunningServer) -> TpuClient:
    return TpuClient(emulator_server.url, retries=3, backoff_seconds=0.001, timeout=10)


@pytest.fixture
def stack(
    tmp_path: Any, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> Iterator[Any]:
    from devstack.stack import start_stack

    running = start_stack(tmp_path, emulator, emulator_server, clock)
    yield running
    running.bot.close()
    running.slack.close()


PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own, dropped afterwards."""
    import os
    import uuid

    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({exc.__class__.__name__})")
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))
