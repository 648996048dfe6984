"""What a TPU costs: prices per chip-hour by generation and provisioning model (configuration,
with defaults), and the pure arithmetic of cost per day, cost so far and idle chip-hours.

Cloud TPU "charges accrue while your TPU node is in a READY state" (cloud.google.com/tpu/
pricing), so cost is counted only for running TPUs. A price the table lacks gives `None`
(cost unknown), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.usage import Generation, Provisioning, TpuFacts, TpuUsage

G, P = Generation, Provisioning
# DEFAULT prices, USD per chip-hour, US regions, list prices. NOT verified here (2026-12-03):
# the copy of cloud.google.com/tpu/pricing the search tool holds is an old version (v2/v3
# single devices, v4 in preview) whose tables could not be read, so these are Google's list
# prices as the author recalls the pricing page (2025). v3's 2.00 / 0.60 match public notes
# quoting v3-8 at $8.00/h on demand and $2.40/h preemptible (4 chips). Spot prices of v4 and
# later change with demand and are left out; so is every TPU7x price, and flex-start. Reserved
# = the 1-year committed use price. Configure real prices (`usage.prices` in the config file).
DEFAULT_PER_CHIP_HOUR: Mapping[tuple[Generation, Provisioning], float] = {
    (G.V2, P.ON_DEMAND): 1.125,
    (G.V2, P.SPOT): 0.3375,
    (G.V3, P.ON_DEMAND): 2.00,
    (G.V3, P.SPOT): 0.60,
    (G.V4, P.ON_DEMAND): 3.22,
    (G.V4, P.RESERVED): 2.03,
    (G.V5E, P.ON_DEMAND): 1.20,
    (G.V5E, P.RESERVED): 0.84,
    (G.V5P, P.ON_DEMAND): 4.20,
    (G.V5P, P.RESERVED): 2.94,
    (G.V6E, P.ON_DEMAND): 2.70,
    (G.V6E, P.RESERVED): 1.89,
}


@dataclass(frozen=True)
class PriceTable:
    per_chip_hour: Mapping[tuple[Generation, Provisioning], float] = field(
        default_factory=lambda: dict(DEFAULT_PER_CHIP_HOUR)
    )
    currency: str = "USD"

    def chip_hour(self, facts: TpuFacts) -> float | None:
        if facts.generation is None:
            return None
        return self.per_chip_hour.get((facts.generation, facts.provisioning))


def price_table(prices: Mapping[str, Mapping[str, float]], currency: str = "USD") -> PriceTable:
    """From configuration: {"v5e": {"on-demand": 1.2, "spot": 0.5}, ...} over the defaults.
    Unknown generations or models raise ValueError naming them."""
    table = dict(DEFAULT_PER_CHIP_HOUR)
    for generation, by_model in prices.items():
        try:
            gen = Generation(generation)
        except ValueError:
            known = ", ".join(g.value for g in Generation)
            raise ValueError(f"unknown TPU generation {generation!r} ({known})") from None
        for model, price in by_model.items():
            try:
                table[(gen, Provisioning(model))] = float(price)
            except ValueError:
                known = ", ".join(p.value for p in Provisioning)
                raise ValueError(f"unknown provisioning model {model!r} ({known})") from None
    return PriceTable(table, currency)


def hourly_cost(facts: TpuFacts, prices: PriceTable) -> float | None:
    rate = prices.chip_hour(facts)
    if rate is None or facts.chips is None:
        return None
    return rate * facts.chips


def cost_per_day(facts: TpuFacts, prices: PriceTable) -> float | None:
    """What a running TPU costs in 24 hours; 0 for one that is not running."""
    hourly = hourly_cost(facts, prices)
    if hourly is None:
        return None
    return hourly * 24 if facts.running else 0.0


def cost_so_far(facts: TpuFacts, prices: PriceTable, now: datetime) -> float | None:
    """What it has cost since it was created, if it ran all along (an upper bound: the bot does
    not know how long it was stopped in between)."""
    hourly = hourly_cost(facts, prices)
    if hourly is None or facts.created is None:
        return None
    hours = max(0.0, (now - facts.created) / timedelta(hours=1))
    return hourly * hours


def idle_chip_hours(usage: TpuUsage, facts: TpuFacts, threshold_percent: float) -> float | None:
    """Chip-hours spent in periods whose mean duty cycle was below the threshold (None when
    the usage or the chip count is unknown)."""
    if not usage.known or facts.chips is None:
        return None
    hours = usage.step / timedelta(hours=1)
    idle_periods = sum(1 for _, duty in usage.duty if duty < threshold_percent)
    return idle_periods * hours * facts.chips
