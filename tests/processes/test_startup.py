"""An operator's first run: every start-up failure of `tpu-bot serve` is one line naming the cause
and the fix, a non-zero exit, and no traceback."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import serve_command, serve_env
from devstack.stack import CONFIG
from devstack.waiting import free_port
from localslack import APP_TOKEN, LocalSlack


@pytest.fixture(scope="module")
def slack() -> Iterator[LocalSlack]:
    running = LocalSlack().start()
    yield running
    running.close()


def serve(tmp_path: Path, slack: LocalSlack, **overrides: str) -> tuple[int, str]:
    """Run `tpu-bot serve` with a working setup changed by `overrides`; (exit code, stderr)."""
    # Anonymous credentials for http://; nothing listens there, and start-up needs nothing.
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = serve_env(tmp_path, slack.api_url, nowhere, CONFIG, **overrides)
    result = subprocess.run(
        serve_command(),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stderr


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: cannot start: "), stderr
    return lines[0]


def test_google_credentials_missing(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(
        tmp_path,
        slack,
        TPU_API_ENDPOINT="https://tpu.googleapis.com/",
        GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "no-such-key.json"),
    )
    line = one_line(stderr)
    assert code != 0
    assert "Google credentials" in line and "GOOGLE_APPLICATION_CREDENTIALS" in line


def test_slack_unreachable(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(tmp_path, slack, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    line = one_line(stderr)
    assert code != 0 and "Slack unreachable" in line and "SLACK_API_URL" in line


def test_slack_refuses_the_bot_token(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(tmp_path, slack, SLACK_BOT_TOKEN="xoxb-revoked")
    line = one_line(stderr)
    assert code != 0 and "Slack refused the token (invalid_auth)" in line
    assert "xoxb-revoked" not in stderr


def test_socket_mode_refused(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(tmp_path, slack, SLACK_APP_TOKEN="xapp-not-" + APP_TOKEN[5:9])
    line = one_line(stderr)
    assert code != 0 and "Slack refused the token" in line and "SLACK_APP_TOKEN" in line


def test_database_unreachable(tmp_path: Path, slack: LocalSlack) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    code, stderr = serve(tmp_path, slack, TPUBOT_DATABASE_URL=url)
    line = one_line(stderr)
    assert code != 0 and "database unreachable" in line and "TPUBOT_DATABASE_URL" in line


def test_port_in_use(tmp_path: Path, slack: LocalSlack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, stderr = serve(tmp_path, slack, PORT=str(taken.getsockname()[1]))
    line = one_line(stderr)
    assert code != 0 and "port in use" in line and "PORT" in line


def test_config_missing(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(tmp_path, slack, TPUBOT_CONFIG=str(tmp_path / "absent.yaml"))
    line = one_line(stderr)
    assert code != 0 and "TPUBOT_CONFIG" in line


def test_a_bad_server_setting_is_named(tmp_path: Path, slack: LocalSlack) -> None:
    code, stderr = serve(tmp_path, slack, TPUBOT_HTTP_IDLE_TIMEOUT_SECONDS="0")
    line = one_line(stderr)
    assert code != 0 and "TPUBOT_HTTP_IDLE_TIMEOUT_SECONDS" in line
