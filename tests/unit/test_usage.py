"""core.usage and core.usage_cost: chips, generations, the idle verdict, cost, with a fixed now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import AcceleratorConfig, Node, NodeState
from bot.core.usage import (
    DEFAULT_EXEMPT_LABELS,
    Generation,
    Provisioning,
    TpuFacts,
    TpuKind,
    TpuUsage,
    UsageKey,
    UsageListing,
    Why,
    chips_of,
    facts_of_instance,
    facts_of_node,
    generation_of,
    idle_verdict,
)
from bot.core.usage_cost import (
    PriceTable,
    cost_per_day,
    cost_so_far,
    hourly_cost,
    idle_chip_hours,
    price_table,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEY = UsageKey(TpuKind.NODE, "ml-infra", "us-east5-a", "train-1")


@pytest.mark.parametrize(
    ("accelerator", "topology", "machine", "chips"),
    [
        ("v2-8", "", "", 4),  # TensorCores: two per chip
        ("v3-8", "", "", 4),
        ("v3-32", "", "", 16),
        ("v4-8", "", "", 4),
        ("v5p-128", "", "", 64),
        ("v5litepod-16", "", "", 16),  # chips
        ("v5e-16", "", "", 16),
        ("v6e-8", "", "", 8),
        ("v5p-128", "4x4x4", "", 64),
        ("", "2x2x1", "", 4),
        ("tpu7x-8", "", "", None),  # how tpu7x-N counts was not found: not guessed
        ("tpu7x-8", "2x2x2", "", 8),
        ("", "", "ct6e-standard-4t", 4),
        ("", "", "tpu7x-standard-4t", 4),
        ("", "", "ct5lp-hightpu-8t", 8),
        ("weird", "", "", None),
        ("", "", "n2-standard-8", None),
    ],
)
def test_chips_by_generation(
    accelerator: str, topology: str, machine: str, chips: int | None
) -> None:
    assert chips_of(accelerator, topology, machine) == chips


@pytest.mark.parametrize(
    ("accelerator", "config", "machine", "generation"),
    [
        ("v3-8", "", "", Generation.V3),
        ("v5litepod-16", "", "", Generation.V5E),
        ("", "V5LITE_POD", "", Generation.V5E),
        ("v5p-8", "V5P", "", Generation.V5P),
        ("", "", "ct6e-standard-4t", Generation.V6E),
        ("", "", "ct5p-hightpu-4t", Generation.V5P),
        ("", "", "tpu7x-standard-4t", Generation.TPU7X),
        ("tpu7x-64", "", "", Generation.TPU7X),
        ("x1-8", "", "", None),
    ],
)
def test_generation(accelerator: str, config: str, machine: str, generation: object) -> None:
    assert generation_of(accelerator, config, machine) == generation


def node(**changes: object) -> Node:
    base: dict[str, object] = dict(
        name="projects/ml-infra/locations/us-east5-a/nodes/train-1",
        accelerator_type="v5litepod-16",
        software_version="v2-alpha-tpuv5-lite",
        state=NodeState.READY,
        create_time=NOW - timedelta(hours=10),
        labels={"team": "llm"},
    )
    base.update(changes)
    return Node(**base)  # type: ignore[arg-type]


def test_facts_of_a_node() -> None:
    facts = facts_of_node(node())
    assert (facts.ref, facts.key, facts.chips) == ("ml-infra/us-east5-a/train-1", KEY, 16)
    assert (facts.generation, facts.provisioning, facts.running) == (
        Generation.V5E,
        Provisioning.ON_DEMAND,
        True,
    )
    assert not facts.can_stop  # v5litepod-16 is multi-host: not stoppable
    assert facts_of_node(node(accelerator_type="v3-8")).can_stop
    assert facts_of_node(node(spot=True)).provisioning is Provisioning.SPOT
    assert facts_of_node(node(preemptible=True)).provisioning is Provisioning.SPOT
    assert facts_of_node(node(reserved=True)).provisioning is Provisioning.RESERVED
    assert not facts_of_node(node(state=NodeState.STOPPED)).running
    v2 = node(accelerator_type="v5p-8", accelerator_config=AcceleratorConfig("V5P", "2x2x1"))
    assert (facts_of_node(v2).chips, facts_of_node(v2).generation) == (4, Generation.V5P)


def test_facts_of_an_instance() -> None:
    facts = facts_of_instance(
        project="ml-infra",
        zone="us-east5-b",
        name="serve-0",
        instance_id="4400123",
        machine_type="ct6e-standard-4t",
        status="RUNNING",
        provisioning_model="RESERVATION_BOUND",
        created=NOW,
    )
    assert facts.key == UsageKey(TpuKind.INSTANCE, "ml-infra", "us-east5-b", "4400123")
    assert (facts.ref, facts.chips, facts.generation) == (
        "ml-infra/us-east5-b/serve-0",
        4,
        Generation.V6E,
    )
    assert (facts.provisioning, facts.running) == (Provisioning.RESERVED, True)


def hourly(*values: float) -> tuple[tuple[datetime, float], ...]:
    """Hour-long period means, newest first (values given newest first)."""
    return tuple((NOW - i * HOUR, v) for i, v in enumerate(values))


def test_usage_means_over_spans() -> None:
    usage = TpuUsage(KEY, HOUR, duty=hourly(10.0, 20.0, 30.0, *[0.0] * 21))
    assert usage.duty_1h == 10.0
    assert usage.duty_over(3 * HOUR) == pytest.approx(20.0)
    assert usage.duty_24h == pytest.approx(60.0 / 24)
    window = TpuUsage(KEY, 3 * HOUR, duty=((NOW, 1.5),))
    assert window.duty_over(3 * HOUR) == 1.5
    assert window.duty_1h is None  # a 3-hour mean says nothing of the last hour
    assert not TpuUsage(KEY, HOUR).known


def test_listing_tells_unknown_from_unreported() -> None:
    other = UsageKey(TpuKind.INSTANCE, "ml-infra", "us-east5-b", "99")
    listing = UsageListing(
        "ml-infra",
        NOW,
        3 * HOUR,
        3 * HOUR,
        usages={KEY: TpuUsage(KEY, 3 * HOUR, duty=((NOW, 50.0),))},
        unknown={TpuKind.INSTANCE: "Cloud Monitoring: unavailable"},
    )
    assert listing.usage_of(KEY).duty_over(3 * HOUR) == 50.0
    assert listing.usage_of(other).unknown == "Cloud Monitoring: unavailable"
    missing = replace(KEY, id="train-2")
    assert listing.usage_of(missing).unknown == "no utilization was reported for it"
    assert not listing.known


FACTS = facts_of_node(node())
IDLE = TpuUsage(KEY, 3 * HOUR, duty=((NOW, 0.4),))
BUSY = TpuUsage(KEY, 3 * HOUR, duty=((NOW, 45.0),))
UNKNOWN = TpuUsage(KEY, 3 * HOUR, unknown="Cloud Monitoring: unavailable")


@pytest.mark.parametrize(
    ("usage", "facts", "why", "reason"),
    [
        (IDLE, FACTS, Why.IDLE, "idle: mean duty cycle 0.4 % over the last 180 min (below 2 %)"),
        (BUSY, FACTS, Why.BUSY, "busy: mean duty cycle 45.0 % over the last 180 min"),
        (UNKNOWN, FACTS, Why.UNKNOWN, "usage unknown: Cloud Monitoring: unavailable"),
        (TpuUsage(KEY, 3 * HOUR), FACTS, Why.UNKNOWN, "usage unknown: no data"),
        (IDLE, replace(FACTS, running=False), Why.NOT_RUNNING, "not running"),
        (
            IDLE,
            replace(FACTS, labels={"tpu-bot-keep": "true"}),
            Why.EXEMPT,
            "exempt by its label tpu-bot-keep=true",
        ),
        (IDLE, replace(FACTS, labels={"tpu-bot-keep": "false"}), Why.IDLE, "idle: mean duty"),
        (
            IDLE,
            replace(FACTS, kept_until=NOW + HOUR),
            Why.KEPT,
            "kept until 2026-11-24 13:00 UTC",
        ),
        (IDLE, replace(FACTS, kept_until=NOW), Why.IDLE, "idle"),  # the keep ran out
        (
            IDLE,
            replace(FACTS, created=NOW - timedelta(minutes=40)),
            Why.TOO_YOUNG,
            "running for 40 min, less than the 180 min window",
        ),
        (
            IDLE,
            replace(FACTS, chips=1),
            Why.TOO_SMALL,
            "1 chips, fewer than the 4 checked",
        ),
        (
            TpuUsage(KEY, 6 * HOUR, duty=((NOW, 0.0),)),
            FACTS,
            Why.UNKNOWN,
            "usage unknown: read in 360 min periods, not over 180 min",
        ),
    ],
)
def test_idle_verdict(usage: TpuUsage, facts: TpuFacts, why: Why, reason: str) -> None:
    verdict = idle_verdict(usage, facts, 2.0, 180, 4, DEFAULT_EXEMPT_LABELS, NOW)
    assert verdict.why is why
    assert verdict.idle is (why is Why.IDLE)
    assert verdict.reason.startswith(reason)


def test_unknown_usage_is_never_idle_whatever_the_threshold() -> None:
    for threshold in (0.0, 2.0, 100.0, 1e9):
        verdict = idle_verdict(UNKNOWN, FACTS, threshold, 180, 0, {}, NOW)
        assert not verdict.idle


def test_threshold_is_strict() -> None:
    at = TpuUsage(KEY, 3 * HOUR, duty=((NOW, 2.0),))
    assert not idle_verdict(at, FACTS, 2.0, 180, 0, {}, NOW).idle
    assert idle_verdict(at, FACTS, 2.01, 180, 0, {}, NOW).idle


PRICES = PriceTable({(Generation.V5E, Provisioning.ON_DEMAND): 1.5}, "USD")


def test_costs() -> None:
    assert hourly_cost(FACTS, PRICES) == 24.0  # 16 chips at 1.5
    assert cost_per_day(FACTS, PRICES) == 576.0
    assert cost_so_far(FACTS, PRICES, NOW) == 240.0  # created 10 h ago
    assert cost_per_day(replace(FACTS, running=False), PRICES) == 0.0
    assert cost_per_day(replace(FACTS, provisioning=Provisioning.SPOT), PRICES) is None
    assert cost_per_day(replace(FACTS, chips=None), PRICES) is None
    assert cost_so_far(replace(FACTS, created=None), PRICES, NOW) is None


def test_idle_chip_hours_count_periods_below_the_threshold() -> None:
    usage = TpuUsage(KEY, HOUR, duty=hourly(0.5, 90.0, 1.0, 3.0))
    assert idle_chip_hours(usage, FACTS, 2.0) == 2 * 16
    assert idle_chip_hours(UNKNOWN, FACTS, 2.0) is None


def test_price_table_from_config() -> None:
    table = price_table({"v5e": {"on-demand": 2, "spot": 0.5}}, "EUR")
    assert table.chip_hour(FACTS) == 2.0
    assert table.chip_hour(replace(FACTS, provisioning=Provisioning.SPOT)) == 0.5
    assert table.currency == "EUR"
    v6e = replace(FACTS, generation=Generation.V6E)
    assert table.chip_hour(v6e) == 2.70  # a default kept
    with pytest.raises(ValueError, match="unknown TPU generation 'v9'"):
        price_table({"v9": {"on-demand": 1}})
    with pytest.raises(ValueError, match="unknown provisioning model 'cheap'"):
        price_table({"v5e": {"cheap": 1}})
