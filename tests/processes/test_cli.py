"""`tpu-bot emulator` as a user runs it, read by a plain google-api-python-client program."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httplib2
import pytest
from googleapiclient import discovery

from devstack.replicas import emulator_process as running_emulator


@pytest.fixture
def emulator_process() -> Iterator[str]:
    with running_emulator("--fleet", "1000") as url:
        yield url


def test_plain_client_lists_the_whole_fleet(emulator_process: str) -> None:
    service = discovery.build(
        "tpu",
        "v1alpha1",
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": emulator_process + "/"},
    )
    nodes = service.projects().locations().nodes()
    seen, pages = [], 0
    for project in ("ml-prod", "ml-research", "ml-sandbox"):
        request = nodes.list(parent=f"projects/{project}/locations/-")
        while request is not None:
            response = request.execute()
            pages += 1
            seen.extend(n["name"] for n in response.get("nodes", []))
            request = nodes.list_next(request, response)
    assert len(seen) == len(set(seen)) == 1000
    assert pages > 3  # the default page size made it paginate
    assert len({name.split("/")[3] for name in seen}) == 8


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    assert "emulator" in result.stdout and "demo" in result.stdout
