"""The reproductions on Ray RLlib (``--engine rllib``): settings, and (slow) a tiny run."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray.rllib")

from consent_gym.cli import build_parser, main
from consent_gym.experiments import common
from consent_gym.experiments.delivery_curb import DeliveryCurbConfig
from consent_gym.experiments.rllib_training import rllib_ppo_kwargs


def test_sb3_ppo_settings_translate_to_rllib():
    from consent_gym.envs.training import N_ENVS, PPO_KWARGS

    kwargs = rllib_ppo_kwargs(PPO_KWARGS, N_ENVS)
    assert kwargs == {"train_batch_size_per_learner": 128 * 8, "minibatch_size": 256,
                      "num_epochs": 4, "lr": 1e-3, "gamma": 0.99, "lambda_": 0.95,
                      "entropy_coeff": 0.01, "clip_param": 0.2}
    with pytest.raises(ValueError, match="'target_kl' has no RLlib equivalent"):
        rllib_ppo_kwargs({"target_kl": 0.01}, 1)


def test_engine_is_checked():
    with pytest.raises(ValueError, match="engine must be one of"):
        DeliveryCurbConfig(engine="jax")
    with pytest.raises(ValueError, match="engine must be one of"):
        common.run_arms("X-v0", {}, [0], 1, [0], n_envs=1, ppo_kwargs={}, engine="jax")
    args = build_parser().parse_args(["reproduce", "delivery-curb", "--engine", "rllib"])
    assert args.engine == "rllib"
    assert build_parser().parse_args(["reproduce", "delivery-curb"]).engine == "sb3"


def test_shared_judge_loads_once_per_process():
    assert common.shared_judge("rule") is common.shared_judge("rule")


@pytest.mark.slow
def test_delivery_curb_tiny_rllib_run_writes_results(tmp_path, capsys):
    import ray

    out = tmp_path / "curb"
    code = main(["reproduce", "delivery-curb", "--engine", "rllib", "--judge", "rule",
                 "--timesteps", "1024", "--seeds", "1", "--eval-episodes", "3",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    assert "engine rllib" in capsys.readouterr().out
    assert not ray.is_initialized()  # the run shut down the Ray it started
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["engine"] == "rllib"
    gated, ungated = results["arms"]["gated"]["runs"][0], results["arms"]["ungated"]["runs"][0]
    assert gated["judge"]["texts"] == gated["training_episodes"] >= 8  # each judged once
    assert gated["judge"]["batches"] >= 1 and gated["judge"]["distinct_texts"] >= 1
    assert ungated["judge"] == {} and ungated["training_episodes"] >= 8
    assert "ray" in results["versions"]
    assert (out / "learning_curves.png").exists()
