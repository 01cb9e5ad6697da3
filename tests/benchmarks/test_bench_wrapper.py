"""consent_gym.benchmarks.wrapper: the wrapper overhead figure."""

from __future__ import annotations

import pytest

from consent_gym.benchmarks.wrapper import WrapperOverhead


def test_wrapper_overhead_is_the_median_of_paired_ratios():
    result = WrapperOverhead("X-v0", 10, 3, raw_steps_per_s=100.0, wrapped_steps_per_s=50.0,
                             episodes_judged=1, pair_ratios=(1.5, 1.1, 9.0))
    assert result.overhead_ratio == 1.5  # one disturbed pair (9.0) does not move it
    assert result.ratio_of_medians == 2.0
    assert result.to_dict()["pair_ratios"] == [1.5, 1.1, 9.0]
    without_pairs = WrapperOverhead("X-v0", 10, 1, 120.0, 100.0, 1)
    assert without_pairs.overhead_ratio == pytest.approx(1.2)
