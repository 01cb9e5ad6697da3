"""consent-gym bench: the JSON contract and the figures' consistency."""

from __future__ import annotations

import json

import pytest

from consent_gym.benchmarks import bench_wrapper
from consent_gym.cli import main


def test_bench_wrapper_json_is_the_last_line(capsys):
    assert main(["bench", "wrapper", "--steps", "300", "--repeats", "1", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result["overhead_ratio"]) == {"CartPole-v1", "consent_gym/DeliveryCurb-v0"}
    for r in result["results"]:
        assert r["overhead_ratio"] == pytest.approx(r["raw_steps_per_s"] / r["wrapped_steps_per_s"])
        assert r["episodes_judged"] > 0
    assert "overhead" in lines[0]


def test_bench_wrapper_rejects_bad_counts():
    with pytest.raises(ValueError, match="steps and repeats must be >= 1"):
        bench_wrapper("CartPole-v1", steps=0)
    with pytest.raises(SystemExit, match="must be >= 1"):
        main(["bench", "wrapper", "--repeats", "0"])


def test_bench_needs_a_subcommand():
    with pytest.raises(SystemExit):
        main(["bench"])
