"""The ack path's pure limits (bot.core.limits), in tables: time is a number we pass."""

from __future__ import annotations

import pytest

from bot.core.limits import DrainRate, RateLimiter, Recently, Verdict, wait_words

# (per minute, burst, [(user, now, scale)], the verdicts in order)
BUCKETS = [
    # A burst, then the refill at the rate: 6 a minute = one every 10 s.
    (
        6,
        3,
        [("u", 0, 1), ("u", 0, 1), ("u", 0, 1), ("u", 0, 1), ("u", 4, 1), ("u", 10, 1)],
        [
            Verdict(True),
            Verdict(True),
            Verdict(True),
            Verdict(False, 10.0),
            Verdict(False, 6.0),
            Verdict(True),
        ],
    ),
    # Users have buckets of their own.
    (
        6,
        1,
        [("a", 0, 1), ("a", 0, 1), ("b", 0, 1), ("b", 1, 1)],
        [Verdict(True), Verdict(False, 10.0), Verdict(True), Verdict(False, 9.0)],
    ),
    # A refusal does not spend: the wait shrinks as time passes.
    (
        60,
        1,
        [("u", 0, 1), ("u", 0.25, 1), ("u", 0.5, 1), ("u", 1.0, 1), ("u", 1.0, 1)],
        [
            Verdict(True),
            Verdict(False, 0.75),
            Verdict(False, 0.5),
            Verdict(True),
            Verdict(False, 1.0),
        ],
    ),
    # A scaled user (an admin at 10x): ten times the burst and the rate.
    (
        6,
        1,
        [("admin", 0, 10)] * 10 + [("admin", 0, 10), ("admin", 1, 10)],
        [Verdict(True)] * 10 + [Verdict(False, 1.0), Verdict(True)],
    ),
    # A long pause refills no more than the burst.
    (
        60,
        2,
        [("u", 0, 1), ("u", 0, 1), ("u", 3600, 1), ("u", 3600, 1), ("u", 3600, 1)],
        [Verdict(True), Verdict(True), Verdict(True), Verdict(True), Verdict(False, 1.0)],
    ),
    # A clock that steps back does not mint tokens.
    (
        60,
        1,
        [("u", 10, 1), ("u", 5, 1), ("u", 10.5, 1)],
        [Verdict(True), Verdict(False, 1.0), Verdict(False, 0.5)],
    ),
]


@pytest.mark.parametrize(("per_minute", "burst", "takes", "expected"), BUCKETS)
def test_token_buckets(
    per_minute: float,
    burst: int,
    takes: list[tuple[str, float, float]],
    expected: list[Verdict],
) -> None:
    limiter = RateLimiter(per_minute, burst)
    got = [limiter.take(user, now, scale) for user, now, scale in takes]
    assert [v.allowed for v in got] == [v.allowed for v in expected]
    assert [v.retry_after for v in got] == pytest.approx([v.retry_after for v in expected])


def test_buckets_held_are_bounded_and_a_forgotten_one_is_a_full_one() -> None:
    limiter = RateLimiter(60, 1, max_keys=10)
    assert limiter.take("loop", 0, 1).allowed
    assert not limiter.take("loop", 0, 1).allowed
    for i in range(100):
        limiter.take(f"u{i}", 0.1, 1)
    assert len(limiter) <= 10
    # "loop" was refilled (or forgotten, the same thing) by now: one more is allowed.
    assert limiter.take("loop", 2, 1).allowed


def test_refilled_buckets_are_forgotten_before_older_ones_still_draining() -> None:
    limiter = RateLimiter(60, 10, max_keys=3)  # one a second, ten at once
    for _ in range(10):
        limiter.take("flooder", 0, 1)  # the least recently used, still nearly empty at 3 s
    limiter.take("idle", 1, 1)  # full again at 2 s
    for _ in range(5):
        limiter.take("other", 1.5, 1)
    limiter.take("new", 3, 1)  # room is made: "idle" goes, "flooder" stays
    assert [limiter.take("flooder", 3, 1).allowed for _ in range(4)] == [True] * 3 + [False]


# (finished at, depth, now, seconds until the queue is drained)
DRAINS = [
    ([], 50, 10.0, 30.0),  # nothing finished yet: the fixed estimate
    ([9.0], 50, 10.0, 30.0),  # one is not a rate
    ([0.0, 1.0, 2.0, 3.0, 4.0], 10, 4.0, 8.0),  # 5 in 4 s (1.25/s): 10 in 8 s
    ([0.0, 1.0, 2.0, 3.0, 4.0], 1, 4.0, 1.0),  # never under a second
    ([0.0, 100.0], 3, 100.0, 30.0),  # the first is out of the 60 s window: no rate
    ([float(i) / 100 for i in range(100)], 10_000_000, 1.0, 600.0),  # capped at 10 minutes
]


@pytest.mark.parametrize(("finished", "depth", "now", "expected"), DRAINS)
def test_drain_rate(finished: list[float], depth: int, now: float, expected: float) -> None:
    drain = DrainRate(window=60, unknown=30, most=600)
    for at in finished:
        drain.finished(at)
    assert drain.retry_after(depth, now) == pytest.approx(expected)


def test_recently_says_first_once_per_window() -> None:
    seen = Recently(window=60, max_keys=2)
    assert [seen.first("a", t) for t in (0, 30, 59.9, 60, 61)] == [True, False, False, True, False]
    assert seen.first("b", 0) and seen.first("c", 0)  # "a" forgotten: over max_keys
    assert seen.first("a", 62)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "1 s"), (0.2, "1 s"), (1, "1 s"), (11.01, "12 s"), (119.5, "2 min"), (121, "3 min")],
)
def test_wait_words(seconds: float, words: str) -> None:
    assert wait_words(seconds) == words


def test_a_limiter_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1)
    with pytest.raises(ValueError):
        RateLimiter(1, 0)
