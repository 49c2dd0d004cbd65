"""Stage timings: each block's seconds are added to its stage, also when the block fails."""

from __future__ import annotations

import itertools

import pytest

from sgpt_eval import timing


@pytest.fixture
def clock(monkeypatch):
    """perf_counter reading 0, 1.5, 3, 4.5 ... seconds: each block takes 1.5 s."""
    ticks = itertools.count()
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks) * 1.5)


def test_a_stage_accumulates_and_others_stay_apart(clock):
    timings = {"load": 2.0}
    with timing.timed(timings, "encode"):
        pass
    with timing.timed(timings, "encode"):
        pass
    with timing.timed(timings, "search"):
        pass
    assert timings == {"load": 2.0, "encode": 3.0, "search": 1.5}


def test_a_failing_block_is_timed_and_its_error_passes_through(clock):
    timings: dict[str, float] = {}
    with pytest.raises(KeyError, match="missing"), timing.timed(timings, "score"):
        raise KeyError("missing")
    assert timings == {"score": 1.5}


def test_real_seconds_are_measured():
    timings: dict[str, float] = {}
    with timing.timed(timings, "sleep"):
        timing.time.sleep(0.05)
    assert 0.04 < timings["sleep"] < 5
