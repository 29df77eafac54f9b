"""Caches, rate limits and backoff, on a clock the tests move."""

from __future__ import annotations

import logging

import pytest

from custom_components.sinotrack.location.throttle import (
    ExpiringCache,
    FailureTracker,
    Pacer,
    TokenBucket,
)

from .helpers import FakeClock


def test_cache_expires_and_evicts_the_least_recently_used() -> None:
    clock = FakeClock()
    cache: ExpiringCache[str, int | None] = ExpiringCache(2, clock)
    cache.put("a", 1, ttl=10)
    cache.put("b", None, ttl=5)

    assert cache.get("b") == (True, None)  # a cached "nothing" is a hit
    assert cache.get("a") == (True, 1)  # "a" is now the most recently used
    cache.put("c", 3, ttl=10)
    assert cache.get("b") == (False, None)  # evicted
    assert len(cache) == 2

    clock.advance(10)
    assert cache.get("a") == (False, None)
    assert len(cache) == 1


def test_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ExpiringCache[str, int](0)


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)

    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    clock.advance(0.5)
    assert [bucket.try_acquire() for _ in range(2)] == [True, False]
    clock.advance(100)
    assert sum(bucket.try_acquire() for _ in range(10)) == 3  # never more than the burst


def test_pacer_reserves_slots_within_the_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(interval=1.0, max_wait=2.0, clock=clock)

    assert [pacer.reserve() for _ in range(4)] == [0.0, 1.0, 2.0, None]
    clock.advance(2.5)
    assert pacer.reserve() == 0.5


def test_failures_back_off_exponentially_and_log_each_kind_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    failures = FailureTracker(
        "Service", logging.getLogger("test.throttle"), base=10, maximum=60, clock=clock
    )
    caplog.set_level(logging.DEBUG, "test.throttle")

    for expected in (10, 20, 40, 60, 60):
        failures.failure("timeout", "no answer")
        assert failures.retry_in == expected
    failures.failure("http_500", "answered 500")
    failures.failure("http_429", "slow down", at_least=3600)  # capped too
    assert failures.retry_in == 60
    assert failures.backing_off()
    assert failures.counts == {"timeout": 5, "http_500": 1, "http_429": 1}

    failures.success()
    assert not failures.backing_off()
    failures.failure("timeout", "no answer")
    assert failures.retry_in == 10  # the run of failures starts again

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # timeout, http_500, http_429: once each
    assert failures.last_error == "timeout: no answer"
