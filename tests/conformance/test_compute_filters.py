"""The filter subset Compute lists take (regular expressions and AIP-160 comparisons), and what
they refuse: an expression the emulator does not implement is a 400, never ignored."""

from __future__ import annotations

from typing import Any

import pytest

from tpu_emulator.compute.errors import ComputeError
from tpu_emulator.compute.filters import compile_filter, order_key

VM: dict[str, Any] = {
    "name": "llm-train-vm-00042",
    "status": "RUNNING",
    "machineType": "https://www.googleapis.com/compute/v1/projects/p/zones/z/machineTypes/tpu7x-standard-4t",
    "creationTimestamp": "2026-11-20T09:00:00.000+00:00",
    "labels": {"team": "llm", "env": "prod"},
    "scheduling": {"provisioningModel": "SPOT", "automaticRestart": False},
    "disks": [{"boot": True, "diskSizeGb": "100"}, {"boot": False, "diskSizeGb": "2000"}],
    "resourceStatus": {},
}


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("machineType eq .*tpu.*", True),
        ("machineType eq .*ct6e.*", False),
        ("machineType ne .*ct6e.*", True),
        ("name eq 'llm-.*'", True),
        ('name eq "llm"', False),  # a regular expression matches the whole field
        ('(status eq "RUNNING") (labels.team ne "vision")', True),
        ('(status eq "RUNNING") (labels.team eq "vision")', False),
        ('status = "RUNNING"', True),
        ("status = RUNNING", True),
        ('(status = "RUNNING") AND (labels.team = "llm")', True),
        ('(status = "RUNNING") AND (labels.team = "x")', False),
        ('status = "STOPPED" OR labels.env = "prod"', True),
        ('labels.team = "x" labels.env = "prod"', False),  # juxtaposed terms are ANDed
        ('name = "llm*"', True),
        ('name = "*00042"', True),
        ('name = "vision*"', False),
        ('name != "vision*"', True),
        ("labels:team", True),
        ("labels:owner", False),
        ("labels.team:*", True),
        ("resourceStatus.upcomingMaintenance:*", False),
        ("scheduling.automaticRestart = false", True),
        ("NOT scheduling.automaticRestart = true", True),
        ("-labels.team = llm", False),
        ('creationTimestamp > "2026-11-01"', True),
        ('creationTimestamp < "2026-11-01"', False),
        ("disks.diskSizeGb > 1000", True),
        ("disks.boot = false", True),
        (
            '(status = "TERMINATED" OR status = "RUNNING") AND scheduling.provisioningModel = SPOT',
            True,
        ),
    ],
)
def test_filters(expression: str, matches: bool) -> None:
    predicate = compile_filter(expression, "Instance")
    assert predicate is not None and predicate(VM) is matches


@pytest.mark.parametrize(
    "expression",
    [
        "status ~ RUNNING",  # an operator Compute lists do not take
        "colour = red",  # not a field of Instance
        "labels.team = ",  # no value
        "(status = RUNNING",  # unbalanced
        'status eq RUNNING AND name = "x"',  # the two syntaxes mixed
        "(status eq RUNNING) name",
        "status eq [",  # not a regular expression
        "has(labels.team)",  # functions are not supported
    ],
)
def test_unsupported_filters_are_refused(expression: str) -> None:
    with pytest.raises(ComputeError) as refused:
        compile_filter(expression, "Instance")
    assert refused.value.http == 400 and "filter" in refused.value.message


def test_no_filter_is_no_predicate() -> None:
    assert compile_filter("", "Instance") is None and compile_filter(None, "Instance") is None


def test_order_by() -> None:
    assert order_key(None) is None and order_key("name") is None
    key = order_key("creationTimestamp desc")
    assert key is not None and key(VM) == VM["creationTimestamp"]
    assert key({"insertTime": "t"}) == "t"  # operations carry insertTime
    for unsupported in ("status", "creationTimestamp asc", "name desc"):
        with pytest.raises(ComputeError):
            order_key(unsupported)
