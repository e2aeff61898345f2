"""A short run of bench/notify_rate.py, so it keeps working: it sends through the fake
Notify and causes no 429. The rate itself is measured by the bench, never asserted."""

from __future__ import annotations

from bench.notify_rate import measure


async def test_the_rate_bench_runs_and_causes_no_429() -> None:
    result = await measure(seconds=0.5, senders=4, rate_per_minute=2850)
    assert result["accepted"] > 0
    assert result["throttled"] == 0 and result["refused"] == 0
