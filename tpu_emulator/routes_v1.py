"""The v1 REST paths of `tpu.v1.json`: v1alpha1's resources over the same fleet, without
requestId on node create and delete. Stats keys: `v1.` + the discovery id without
`tpu.projects.locations.` (`v1.nodes.list`, `v1.locations.get`)."""

from __future__ import annotations

from tpu_emulator.routes_v1alpha1 import build

ROUTES = build("v1", "v1.", request_ids=False)
