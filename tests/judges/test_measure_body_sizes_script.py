"""scripts/measure_body_sizes.py: the 270M fp32 body is the anchor of every estimate, each
shape is read in both dtypes, and bad sizes are refused with the option's name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from consent_gym.judges.probe import ProbeReadout, readout_path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from measure_body_sizes import SHAPES, build_body, measure


def test_the_anchor_body_reads_to_the_shipped_readouts_layer():
    # the anchor stands for the shipped judge only while it stops where that judge's readout
    # reads (a ChunkEncoder layer n is the output of the first n transformer layers)
    assert SHAPES["270m"]["read_layer"] == ProbeReadout.load(readout_path("gemma")).layer


def test_the_anchor_body_estimates_the_anchor_rate_and_both_dtypes_are_timed():
    timings = measure(["270m"], batch=2, tokens=4, repeats=1, anchor_eps=10.0)
    assert [(t.shape, t.dtype) for t in timings] == [("270m", "float32"), ("270m", "bfloat16")]
    anchor, bf16 = timings
    assert anchor.estimated_episodes_per_s == 10.0
    assert anchor.read_layer == 8
    assert anchor.body_params_m == bf16.body_params_m == pytest.approx(44.6, abs=0.1)
    ratio = bf16.tokens_per_s / anchor.tokens_per_s
    assert bf16.estimated_episodes_per_s == pytest.approx(10.0 * ratio, rel=0.02)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch": 0}, "--batch must be >= 1"),
    ({"repeats": 0}, "--repeats must be >= 1"),
    ({"anchor_eps": 0.0}, "--anchor-eps must be > 0"),
])
def test_bad_sizes_name_the_option(kwargs, message):
    args = {"shapes": ["270m"], "batch": 2, "tokens": 4, "repeats": 1, "anchor_eps": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        measure(**args)


def test_an_unknown_shape_or_dtype_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown shape '7b'; use one of \['1b', '270m', '4b'\]"):
        build_body("7b", "float32")
    with pytest.raises(ValueError, match=r"unknown dtype 'float16'"):
        build_body("270m", "float16")
