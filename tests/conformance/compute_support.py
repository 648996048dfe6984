"""What the Compute Engine conformance tests share: a seeded emulator on a fake clock, Google's
clients pointed at it, and the seeded names they use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httplib2
from google.auth.credentials import AnonymousCredentials
from googleapiclient import discovery

from devstack.clock import FakeClock
from tests.conformance.schema import SchemaChecker
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve

PROJECT = "ml-prod"  # the first project holds the seeded slice, flex-start and GKE groups
SLICE_ZONE, FLEX_ZONE = "us-central1-c", "us-east5-b"
SLICE, FLEX, GKE = "ironwood-slice-a", "flex-v6e", "gke-research-tpu-v6e-pool-5f2c9a1e-grp"
RESERVATION = "ironwood-reservation"
BLOCK = f"{RESERVATION}-block-0001"
BLOCK_PARENT = f"reservations/{RESERVATION}/reservationBlocks/{BLOCK}"
SPARE_SUB_BLOCK = f"{BLOCK}-subblock-0002"
OP_SECONDS = 10
COMPUTE = SchemaChecker("v1", api="compute")


def seeded(clock: FakeClock, op_seconds: float = OP_SECONDS) -> Emulator:
    """The seeded fleet the Compute tests read: 60 TPU VMs over three projects, plus the
    first project's slice, flex-start group, GKE pool and reservation."""
    return Emulator(clock=clock, op_seconds=op_seconds, fleet=60, projects=3)


@contextmanager
def serving(emulator: Emulator) -> Iterator[RunningServer]:
    server = serve(emulator)
    try:
        yield server
    finally:
        server.close()


def api_client(server: RunningServer) -> Any:
    """googleapiclient's compute v1: its api_endpoint replaces rootUrl + servicePath, so it is
    given the service path too."""
    return discovery.build(
        "compute",
        "v1",
        static_discovery=True,
        http=httplib2.Http(timeout=30),
        client_options={"api_endpoint": f"{server.url}/compute/v1/"},
    )


def gapic(client_class: Any, server: RunningServer) -> Any:
    """A google-cloud-compute client over REST: it adds /compute/v1/ to the endpoint itself."""
    return client_class(
        credentials=AnonymousCredentials(), client_options={"api_endpoint": server.url}
    )
