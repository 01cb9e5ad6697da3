"""Consent-gated PPO on a local Ray (2 CPUs): what reaches RLlib's learner.

Each test builds one small PPO on CartPole (a few seconds of sampling); the Ray session
is shared by the module and shut down at its end.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray")

from ray import cloudpickle  # noqa: E402
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig  # noqa: E402

from consent_gym import read_audit_log  # noqa: E402
from consent_gym.benchmarks.rllib_placement import with_learner_probe  # noqa: E402
from consent_gym.judges import FrozenJudgeError, RuleJudge, Verdict  # noqa: E402
from consent_gym.rllib import consent_config  # noqa: E402
from consent_gym.rllib.learner_connector import consent_learner_config  # noqa: E402

# The judges below travel to the EnvRunner processes by value (no import of this module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def fixed_judge(approve: bool) -> RuleJudge:
    return RuleJudge(lambda text: approve, name=f"fixed-{approve}")


class RaisingJudge:
    judge_id = "raising"

    def judge_batch(self, texts):
        raise RuntimeError("the judge fell over")


class TamperedJudge:
    """Approves; its weights 'change' after its first batch (the frozen check fails)."""

    judge_id = "tampered"

    def __init__(self) -> None:
        self.batches = 0

    def verify_frozen(self, full: bool = True) -> None:
        if self.batches:
            raise FrozenJudgeError("weights changed after fingerprinting")

    def judge_batch(self, texts):
        self.batches += 1
        return [Verdict(True, 1.0, self.judge_id) for _ in texts]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield
    ray.shutdown()


def build(judge_factory, mode="zero", *, runners=0, tmp_path=None, gate=consent_config,
          probe=None, **kwargs):
    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=runners, num_envs_per_env_runner=1)
        .training(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1,
                  lr=1e-3)
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[16]))
        .debugging(seed=0)
    )
    audit = None if tmp_path is None else str(tmp_path / "audit.jsonl")
    config = gate(config, judge_factory, mode, audit_log=audit, **kwargs)
    if probe is not None:  # records what reaches GAE, after the consent piece
        with_learner_probe(config, probe)
    return config.build_algo()


def learner_weights(algo) -> dict[str, np.ndarray]:
    state = algo.learner_group.get_weights()
    module = state.get("default_policy", state)
    return {k: np.array(v, copy=True) for k, v in module.items()}


def test_block_veto_all_leaves_the_learner_weights_unchanged(tmp_path):
    algo = build(functools.partial(fixed_judge, False), "block", runners=1, tmp_path=tmp_path)
    try:
        before = learner_weights(algo)
        algo.train()
        after = learner_weights(algo)
    finally:
        algo.stop()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    lines = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert lines and all(line["outcome"] == "vetoed" for line in lines)
    assert {line["learner"] for line in lines} == {"rllib:env_runner1:block"}


def test_approve_all_trains_and_reports_the_judge_in_the_result():
    algo = build(functools.partial(fixed_judge, True), "block", runners=1)
    try:
        before = learner_weights(algo)
        result = algo.train()
        after = learner_weights(algo)
    finally:
        algo.stop()
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    consent = result["env_runners"]["consent"]
    assert consent["episodes_judged"] >= 1
    assert consent["episodes_vetoed"] == 0
    assert consent["veto_rate"] == 0.0
    assert consent["judge_calls"] >= 1


@pytest.mark.parametrize(("mode", "expected"), [("zero", 0.0), ("penalty", -7.0)])
def test_a_vetoed_episode_reaches_the_learner_with_the_released_return(mode, expected):
    algo = build(functools.partial(fixed_judge, False), mode, penalty=-7.0)
    try:
        runner = algo.env_runner_group.local_env_runner
        episodes = runner.sample()  # what PPO's training_step hands to learner_group.update
    finally:
        algo.stop()
    assert episodes
    for episode in episodes:
        env_return = float(episode.get_infos(-1)["consent"]["episode_return"])
        assert env_return > 0  # CartPole pays 1 per step
        assert float(np.sum(episode.get_rewards())) == expected
        assert episode.is_terminated and not episode.is_truncated  # no V(s_T) bootstrap


def test_a_failing_judge_vetoes_and_is_counted():
    algo = build(RaisingJudge, "zero")
    try:
        result = algo.train()
    finally:
        algo.stop()
    consent = result["env_runners"]["consent"]
    assert consent["episodes_judged"] >= 1
    assert consent["episodes_failed"] == consent["episodes_judged"]
    assert consent["episodes_vetoed"] == consent["episodes_judged"]
    assert consent["veto_rate"] == 1.0


def test_tampering_with_the_judge_stops_training_with_the_frozen_error():
    algo = build(TamperedJudge, "zero")  # the local EnvRunner: the error itself arrives
    try:
        with pytest.raises(FrozenJudgeError, match="weights changed"):
            algo.train()
    finally:
        algo.stop()


def test_tampering_with_the_judge_in_a_remote_env_runner_stops_training():
    # RLlib ends an EnvRunner actor on any exception in sample() (the FrozenJudgeError and
    # its traceback go to the worker's log); with restarts off, train() raises.
    algo = build(TamperedJudge, "zero", runners=1)
    try:
        with pytest.raises(ray.exceptions.ActorDiedError):
            algo.train()
    finally:
        algo.stop()


def test_the_learner_connector_zeroes_a_vetoed_episode_through_the_decision_step(
        tmp_path, monkeypatch):
    # The learner connector (the measured alternative placement): with num_learners=0
    # the Learner is in this process, so the spy and the probe see its pipeline.
    import consent_gym.rllib.episodes as rllib_episodes
    from consent_gym.benchmarks.rllib_placement import read_jsonl

    decided = []
    real_decide = rllib_episodes.decide

    def spy(settings, pieces, **kwargs):
        decided.append((len(pieces), kwargs.get("learner")))
        return real_decide(settings, pieces, **kwargs)

    monkeypatch.setattr(rllib_episodes, "decide", spy)
    probe = tmp_path / "gae.jsonl"
    algo = build(functools.partial(fixed_judge, False), "zero", tmp_path=tmp_path,
                 gate=consent_learner_config, probe=probe)
    try:
        result = algo.train()
    finally:
        algo.stop()
    rows = read_jsonl(probe)
    assert rows and decided == [(len(rows), "rllib:learner:zero")]  # one call per update
    assert all(row["env_return"] > 0 for row in rows)  # CartPole paid 1 per step
    assert {row["reward_sum"] for row in rows} == {0.0}  # ... and the learner sees 0
    assert {(row["terminated"], row["truncated"]) for row in rows} == {(True, False)}
    consent = result["learners"]["__all_modules__"]["consent"]
    assert consent["episodes_judged"] == consent["episodes_vetoed"] == len(rows)
    lines = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert len(lines) == len(rows) and {line["reward_released"] for line in lines} == {0.0}
