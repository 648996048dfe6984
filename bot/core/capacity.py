"""Why the API said RESOURCE_EXHAUSTED: a zone out of capacity, a quota, or a reservation.

Stockout and quota both arrive as RESOURCE_EXHAUSTED (HTTP 429 on a call, code 8 in an
operation or a queued resource's failure); only the message tells them apart.
"""

from __future__ import annotations

import enum
import re


class CapacityProblem(enum.StrEnum):
    STOCKOUT = "STOCKOUT"  # the zone has no TPUs of that kind now: wait, or try another zone
    QUOTA = "QUOTA"  # the project's quota is used up: ask for more, or free some
    RESERVATION = "RESERVATION"  # the named reservation is missing, full or not usable


_RESERVATION = re.compile(r"\breservation\b", re.IGNORECASE)
_QUOTA = re.compile(
    r"\bquota\b|PerProjectPer\w+|\b[A-Z]\w+PerProject\w*|limit '[^']+' has been exceeded",
    re.IGNORECASE,
)
_STOCKOUT = re.compile(
    r"no more capacity|insufficient capacity|out of capacity|not enough (?:capacity|resources)"
    r"|stockout|resources? (?:are|is) (?:currently )?(?:not )?(?:available|unavailable)"
    r"|does not have enough resources",
    re.IGNORECASE,
)


def capacity_problem(message: str) -> CapacityProblem | None:
    """Classify a RESOURCE_EXHAUSTED message; None when it is none of the three."""
    if _RESERVATION.search(message):
        return CapacityProblem.RESERVATION
    if _QUOTA.search(message):
        return CapacityProblem.QUOTA
    if _STOCKOUT.search(message):
        return CapacityProblem.STOCKOUT
    return None
