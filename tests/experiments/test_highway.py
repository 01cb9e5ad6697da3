"""The highway reproduction: per-episode ground truth, the judge against it, and a tiny run."""

from __future__ import annotations

import json
import math

import pytest

from consent_gym.experiments import highway
from consent_gym.experiments.common import RunResult
from consent_gym.experiments.highway import (
    DrivingStats,
    HighwayConfig,
    driving_metrics,
    judge_vs_truth,
    run_highway,
    truth_rates,
)
from consent_gym.judges import KeywordJudge


def test_driving_stats_take_the_crash_flag_of_the_last_step_and_the_judged_text():
    stats = DrivingStats()
    stats.add_step(1.0, {"speed": 30.0, "crashed": True})
    stats.add_step(0.5, {"speed": 20.0, "crashed": False,
                         "consent": {"text": "drove on", "pending": True}})
    assert (stats.crashed, stats.length, stats.episode_return) == (False, 2, 1.5)
    assert stats.mean_speed == 25.0 and stats.text == "drove on"
    assert math.isnan(DrivingStats().mean_speed)


def test_driving_metrics_needs_episodes():
    with pytest.raises(ValueError, match="at least one episode"):
        driving_metrics([])


def test_judge_vs_truth_counts_judged_episodes_only():
    run = RunResult("gated", 0, 1.0, 1.0, {}, verdicts=[
        {"text": "a crash", "approved": True}, {"text": "calm", "approved": False}])
    run.episodes = [DrivingStats(crashed=True, text="a crash"), DrivingStats(text="calm"),
                    DrivingStats(text="never judged"), DrivingStats(crashed=True)]
    counts = judge_vs_truth(run)
    assert counts == {"crash_vetoed": 0, "crash_approved": 1, "no_crash_vetoed": 1,
                      "no_crash_approved": 0}
    rates = truth_rates(counts)
    assert rates == {"judge_crash_recall": 0.0, "judge_safe_approval": 0.0}
    empty = truth_rates(dict.fromkeys(counts, 0))
    assert all(math.isnan(v) for v in empty.values())


def test_config_defaults_and_bad_engine(tmp_path):
    config = HighwayConfig()
    assert config.resolved() == (highway.TIMESTEPS, highway.N_ENVS, highway.PPO_KWARGS)
    assert config.env_kwargs() == {}
    assert HighwayConfig(env_config={"duration": 5}).env_kwargs() == {"config": {"duration": 5}}
    with pytest.raises(ValueError, match="engine='sb3' only"):
        run_highway(HighwayConfig(out=tmp_path, engine="rllib", judge="rule"))


def test_tiny_run_vetoes_exactly_the_crashes(tmp_path, monkeypatch):
    pytest.importorskip(
        "highway_env", reason="highway-env is not installed (pip install -e '.[dev]' installs it)")
    crash_judge = KeywordJudge(["collided with another vehicle"])
    monkeypatch.setattr(highway, "load_experiment_judge",
                        lambda name, log, dtype, served: (crash_judge, 0.0))
    config = HighwayConfig(out=tmp_path, timesteps=64, seeds=1, judge="rule", eval_episodes=2,
                           n_envs=2, progress=False, env_config={"duration": 5},
                           ppo_kwargs={"n_steps": 32, "batch_size": 32, "n_epochs": 1})
    results = run_highway(config, argv=["consent-gym", "reproduce", "highway"],
                          log=lambda _: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["experiment"] == "highway" and saved["command"] == "consent-gym reproduce highway"
    assert saved["config"]["env_config"] == {"duration": 5}
    for arm in ("ungated", "gated"):
        evaluation = saved["arms"][arm]["runs"][0]["evaluation"]
        assert evaluation["episodes"] == 2 and 1 <= evaluation["mean_length"] <= 5
        assert 0.0 <= evaluation["crash_rate"] <= 1.0 and evaluation["mean_speed"] > 0
    truth = results["judge_vs_truth"]["total"]
    # The renderer tells every crash and nothing else as a collision.
    assert truth["crash_approved"] == 0 and truth["no_crash_vetoed"] == 0
    gated = results["arms"]["gated"]["runs"][0]
    assert sum(truth.values()) == gated["judge"]["texts"] > 0
    assert truth["crash_vetoed"] == gated["judge"]["vetoed"]
    assert "| crash rate |" in results["table"]
    assert "| training crashes vetoed |" in results["table"]
    assert "| crash rate in training |" in results["table"]
    assert set(results["plots"]) == {"learning_curves", "veto_rate"}
