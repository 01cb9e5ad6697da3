"""The CleanRL-style examples: argument checks, one short iteration per gate, and (slow)
that the rollout API's approve-all learns while veto-all learns nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import cleanrl_dqn
import cleanrl_ppo
import compare_gates

SHORT = ["--num-envs", "2", "--num-steps", "64", "--total-timesteps", "128"]


def params(agent: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.parameters()]


def initial_params(seed: int) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    return params(cleanrl_ppo.Agent(4, 2))


def test_parse_args_defaults_and_clear_errors(capsys):
    args = cleanrl_ppo.parse_args([])
    assert (args.gate, args.judge, args.mode, args.env_id) == (
        "none", "approve-all", "zero", "CartPole-v1")
    with pytest.raises(SystemExit):
        cleanrl_ppo.parse_args(["--gate", "wrapper", "--mode", "block"])
    assert "only --gate rollout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cleanrl_ppo.parse_args(["--total-timesteps", "10"])
    assert "at least one rollout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cleanrl_ppo.parse_args(["--gate", "sb3"])
    with pytest.raises(SystemExit):
        cleanrl_dqn.parse_args(["--gate", "rollout"])  # DQN has no rollout to hand over


def test_as_earned_wrapper_with_approve_all_trains_exactly_like_no_gate():
    runs = {g: cleanrl_ppo.train(cleanrl_ppo.parse_args(["--gate", g, *SHORT[:4],
                                                          "--total-timesteps", "256"]))
            for g in ("none", "wrapper")}
    assert runs["wrapper"]["judged"] == runs["none"]["episodes"] > 0
    assert runs["wrapper"]["vetoed"] == 0
    for a, b in zip(params(runs["none"]["_agent"]), params(runs["wrapper"]["_agent"]),
                    strict=True):
        assert torch.equal(a, b)


def test_rollout_gate_one_iteration_trains_only_finished_episodes():
    result = cleanrl_ppo.train(cleanrl_ppo.parse_args(["--gate", "rollout", *SHORT]))
    assert result["updates"] == 1 and result["judged"] > 0 and result["vetoed"] == 0
    assert result["trained_steps"] + result["held_back_at_end"] == 128
    assert 0 < result["held_back_at_end"] <= 2 * 64  # running episodes wait for their verdict


def test_rollout_gate_veto_all_block_never_updates():
    result = cleanrl_ppo.train(cleanrl_ppo.parse_args(
        ["--gate", "rollout", "--judge", "veto-all", "--mode", "block", *SHORT[:4],
         "--total-timesteps", "256"]))
    assert result["updates"] == 0 and result["skipped_updates"] == 2
    assert result["vetoed"] == result["judged"] > 0
    for a, b in zip(params(result["_agent"]), initial_params(1), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("gate", ["none", "wrapper", "deferred"])
def test_dqn_short_run(gate):
    result = cleanrl_dqn.train(cleanrl_dqn.parse_args(
        ["--gate", gate, "--total-timesteps", "300", "--learning-starts", "100"]))
    assert result["episodes"] > 0 and result["mean_return_last20"] > 0
    assert result["judged"] == (0 if gate == "none" else result["episodes"])


def test_compare_gates_arms_and_table():
    assert compare_gates.arm_argv("rollout:veto-all:block") == [
        "--gate", "rollout", "--judge", "veto-all", "--mode", "block"]
    with pytest.raises(ValueError, match="GATE"):
        compare_gates.arm_argv("a:b:c:d")
    rows = [{"arm": "none", "mean_return_last20": 10.0, "wall_s": 1.0},
            {"arm": "none", "mean_return_last20": 20.0, "wall_s": 3.0}]
    text = compare_gates.table(rows, ["none"])
    assert "| none | 15.0 (10.0, 20.0) | 2.00 (1.00, 3.00) |" in text  # small: 2 decimals


@pytest.mark.slow
def test_rollout_api_approve_all_learns_and_veto_all_does_not():
    # Short CartPole runs with a larger learning rate; each arm same seed.
    common = ["--gate", "rollout", "--total-timesteps", "12288", "--learning-rate", "1e-3",
              "--seed", "1"]
    learned = cleanrl_ppo.train(cleanrl_ppo.parse_args([*common, "--judge", "approve-all"]))
    vetoed = cleanrl_ppo.train(cleanrl_ppo.parse_args([*common, "--judge", "veto-all"]))
    blocked = cleanrl_ppo.train(cleanrl_ppo.parse_args(
        [*common, "--judge", "veto-all", "--mode", "block"]))
    print({k: r["mean_return_last20"] for k, r in
           (("approve", learned), ("veto zero", vetoed), ("veto block", blocked))})
    # A random CartPole policy lasts ~22 steps.
    assert learned["mean_return_last20"] > 2 * vetoed["mean_return_last20"]
    assert learned["mean_return_last20"] > 60
    assert vetoed["mean_return_last20"] < 40
    assert blocked["updates"] == 0
    for a, b in zip(params(blocked["_agent"]), initial_params(1), strict=True):
        assert torch.equal(a, b)
    assert np.isfinite(learned["wall_s"])
