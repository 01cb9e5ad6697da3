"""The reproductions' shared pieces: threaded judge, aggregation, table, JSON, plots."""

from __future__ import annotations

import json
import math
import sys

import pytest
from consent_gym.envs.metrics import EpisodeStats

from consent_gym.experiments import common
from consent_gym.experiments.common import (
    ExperimentConfig,
    RunResult,
    ThreadedJudge,
    eval_seed_list,
)
from consent_gym.experiments.plots import binned, plot_learning_curves, plot_veto_rate
from consent_gym.experiments.report import (
    fmt_stat,
    format_table,
    summarize,
    summarize_runs,
    to_jsonable,
    write_json,
)
from consent_gym.gate import JudgeCall
from consent_gym.judge_registry import MissingDependencyError, load_judge
from consent_gym.judges import RuleJudge


def test_summarize_mean_sample_std_min_max_ignoring_nan():
    s = summarize([1.0, 2.0, float("nan"), 4.0])
    assert s["n"] == 3 and s["mean"] == pytest.approx(7 / 3)
    assert s["std"] == pytest.approx(1.5275252, rel=1e-6)
    assert (s["min"], s["max"]) == (1.0, 4.0)
    assert summarize([5.0])["std"] == 0.0
    empty = summarize([float("nan")])
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    assert fmt_stat(empty) == "n/a"
    assert fmt_stat(summarize([0.5, 0.7]), digits=1) == "0.6 ± 0.1"


def test_threaded_judge_runs_on_its_threads_and_is_the_same_judge():
    import torch

    seen = []

    class Probe(RuleJudge):
        def judge_batch(self, texts):
            seen.append(torch.get_num_threads())
            return super().judge_batch(texts)

    inner = Probe(lambda t: "hit" not in t, name="probe")
    before = torch.get_num_threads()
    judge = ThreadedJudge(inner, threads=1)
    assert judge.judge_id == inner.judge_id
    assert [v.approved for v in judge.judge_batch(["road", "hit"])] == [True, False]
    assert seen == [1] and torch.get_num_threads() == before
    judge.verify_frozen(full=True)  # a rule judge has nothing to check


def test_make_ppo_names_the_missing_sb3_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "consent_gym.sb3", None)
    gate = common.GateSpec(judge=load_judge("rule"))
    with pytest.raises(MissingDependencyError, match=r"consent_gym\.sb3"):
        common.make_ppo("consent_gym/DeliveryCurb-v0", 0, gate, 1, {})


def test_experiment_config_validates_and_resolves():
    with pytest.raises(ValueError, match="judge"):
        ExperimentConfig(judge="oracle")
    with pytest.raises(ValueError, match="mode"):
        ExperimentConfig(mode="ban")
    with pytest.raises(ValueError, match="seeds"):
        ExperimentConfig(seeds=0)
    config = ExperimentConfig(timesteps=512, ppo_kwargs={"n_steps": 64})
    timesteps, n_envs, kwargs = config.resolved()
    assert timesteps == 512 and n_envs >= 1 and kwargs["n_steps"] == 64
    assert ExperimentConfig(seeds=3).seed_list() == [0, 1, 2]
    assert eval_seed_list(3) == [1_000_000, 1_000_001, 1_000_002]
    with pytest.raises(ValueError):
        eval_seed_list(0)


def _run(arm, seed, delivery, peds, judge=None, flags=()):
    return RunResult(
        arm=arm, seed=seed, train_s=1.0 + seed, eval_s=0.1,
        evaluation={"delivery_rate": delivery, "pedestrians_hit_per_episode": peds,
                    "mean_steps_to_deliver": float("nan")},
        judge=judge or {},
        episodes=[EpisodeStats(timestep=t, episode_return=t / 1000, pedestrians_hit=1)
                  for t in range(100, 1100, 100)],
        judge_batches=[JudgeCall(t, 10, 3, 0, len(flags), 0.1) for t in (256, 512, 1024)]
        if judge else [],
        flag_timesteps=list(flags),
    )


def test_summarize_runs_and_format_table():
    judged = {"veto_rate": 0.25, "texts": 100, "cache_hits": None, "seconds": 2.0, "flagged": 0}
    runs = {
        "ungated": [_run("ungated", s, 1.0, 2.0) for s in range(3)],
        "gated": [_run("gated", s, 0.9 + 0.05 * s, 0.0, judged) for s in range(3)],
    }
    summaries = {arm: summarize_runs(rs) for arm, rs in runs.items()}
    assert summaries["gated"]["delivery_rate"]["mean"] == pytest.approx(0.95)
    assert summaries["gated"]["judge_texts"]["mean"] == 100
    assert summaries["gated"]["judge_cache_hits"]["n"] == 0
    assert "veto_rate" not in summaries["ungated"]
    table = format_table(summaries)
    lines = table.splitlines()
    assert lines[0] == "| metric | ungated | gated |"
    assert "| delivery rate | 1.00 ± 0.00 | 0.95 ± 0.05 |" in lines
    assert "| veto rate in training | - | 0.25 ± 0.00 |" in lines
    assert not any("cache hits" in line for line in lines)  # unknown for every arm
    assert not any("steps to deliver" in line for line in lines)  # no value at all


def test_to_jsonable_and_write_json_are_strict(tmp_path):
    import numpy as np

    data = {"a": float("nan"), "b": [np.float32(1.5), float("inf")], "c": {"d": np.int64(3)}}
    assert to_jsonable(data) == {"a": None, "b": [1.5, None], "c": {"d": 3}}
    path = tmp_path / "sub" / "results.json"
    write_json(path, data)
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None], "c": {"d": 3}}


def test_binned_means_and_empty_bins():
    centres, means = binned([0, 1, 5, 9, 10], [1.0, 3.0, 7.0, 2.0, 4.0], total=10, n_bins=5)
    assert centres.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert means[0] == 2.0 and means[2] == 7.0 and means[4] == 3.0
    assert math.isnan(means[1]) and math.isnan(means[3])


def test_plots_are_written_as_png(tmp_path):
    judged = {"veto_rate": 0.3, "texts": 30, "cache_hits": 0, "seconds": 0.3, "flagged": 3}
    runs = {
        "ungated": [_run("ungated", 0, 1.0, 2.0)],
        "gated": [_run("gated", s, 1.0, 0.0, judged, flags=(256, 512, 512)) for s in range(2)],
    }
    curves = plot_learning_curves(runs, 1000, tmp_path / "curves.png", harm_key="pedestrians_hit")
    veto = plot_veto_rate({"gated": runs["gated"]}, 1000, tmp_path / "veto.png")
    for path in (curves, veto):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_config_rejects_a_bad_first_seed(bad):
    with pytest.raises(ValueError, match="first_seed must be a whole number >= 0"):
        common.ExperimentConfig(first_seed=bad)
