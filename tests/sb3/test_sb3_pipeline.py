"""The SB3 buffers with pipelined judging: the same updates as without it, exactly."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest
import torch as th
from sb3_testenvs import make_marked, marker_judge
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from consent_gym import read_audit_log
from consent_gym.judges import Verdict
from consent_gym.sb3 import ConsentCallback, consent_kwargs


class SlowMarkerJudge:
    """The marker judge, sleeping ``seconds`` per text (as a model judge costs), counting
    the texts it judged."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.inner = marker_judge()
        self.judge_id = "slow:" + self.inner.judge_id
        self.seconds = seconds
        self.texts = 0

    def judge_batch(self, texts) -> list[Verdict]:
        time.sleep(self.seconds * len(texts))
        self.texts += len(texts)
        return self.inner.judge_batch(texts)


def venv(n_envs: int = 2) -> DummyVecEnv:
    return DummyVecEnv([functools.partial(make_marked, offset=500 * i) for i in range(n_envs)])


def params_of(model) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def train_ppo(pipeline: bool, mode: str, audit) -> tuple[PPO, list[th.Tensor]]:
    judge = SlowMarkerJudge()
    model = PPO("MlpPolicy", venv(), n_steps=16, batch_size=8, n_epochs=2, gamma=0.9,
                gae_lambda=0.8, seed=0, device="cpu", policy_kwargs={"net_arch": [16]},
                **consent_kwargs(judge, mode=mode, audit_log=audit, pipeline=pipeline))
    model.learn(16 * 2 * 4, callback=ConsentCallback())
    return model, params_of(model)


@pytest.mark.parametrize("mode", ["zero", "block"])
def test_ppo_with_the_pipeline_makes_exactly_the_same_updates(mode, tmp_path):
    plain, plain_params = train_ppo(False, mode, tmp_path / "plain.jsonl")
    piped, piped_params = train_ppo(True, mode, tmp_path / "piped.jsonl")
    assert all(th.equal(a, b) for a, b in zip(plain_params, piped_params, strict=True))
    a, b = plain.rollout_buffer.batch.arrays, piped.rollout_buffer.batch.arrays
    assert all(np.array_equal(a[k], b[k]) for k in ("observations", "rewards", "advantages"))
    stats = piped.rollout_buffer.stats
    assert stats.judged == plain.rollout_buffer.stats.judged and stats.vetoed > 0
    assert stats.prefetched == stats.judged  # every episode was judged ahead
    plain_log = list(read_audit_log(tmp_path / "plain.jsonl"))
    piped_log = list(read_audit_log(tmp_path / "piped.jsonl"))
    keep = ("text_sha256", "approved", "reward_released", "steps_used")
    assert [{k: x[k] for k in keep} for x in piped_log] == [
        {k: x[k] for k in keep} for x in plain_log]
    assert all(x["prefetched"] for x in piped_log)


def test_dqn_with_the_pipeline_makes_exactly_the_same_updates(tmp_path):
    def train(pipeline: bool):
        model = DQN("MlpPolicy", venv(), learning_starts=20, train_freq=4, gradient_steps=1,
                    batch_size=16, buffer_size=2000, target_update_interval=40, seed=0,
                    device="cpu", policy_kwargs={"net_arch": [16]},
                    **consent_kwargs(SlowMarkerJudge(), mode="zero", algo=DQN,
                                     pipeline=pipeline))
        model.learn(200, callback=ConsentCallback())
        return model

    plain, piped = train(False), train(True)
    assert all(th.equal(a, b) for a, b in zip(params_of(plain), params_of(piped), strict=True))
    assert piped.replay_buffer.stats.prefetched > 0
    assert piped.replay_buffer.stats.judged == plain.replay_buffer.stats.judged


def test_ppo_judges_while_it_collects(tmp_path):
    # A judge that takes 0.02 s a text: without the pipeline every rollout waits for it at
    # its end (about 12 episodes, 0.25 s); with it, the episodes ending during the rollout
    # (64 steps of at least 0.004 s) are judged meanwhile.
    def wall(pipeline: bool) -> float:
        judge = SlowMarkerJudge(0.02)
        model = PPO("MlpPolicy", venv(1), n_steps=64, batch_size=32, n_epochs=1, seed=0,
                    device="cpu", policy_kwargs={"net_arch": [16]},
                    **consent_kwargs(judge, mode="zero", pipeline=pipeline))
        slow_steps = SlowSteps(0.004)
        start = time.perf_counter()
        model.learn(64 * 3, callback=[ConsentCallback(), slow_steps])
        return time.perf_counter() - start

    from stable_baselines3.common.callbacks import BaseCallback

    class SlowSteps(BaseCallback):
        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds

        def _on_step(self) -> bool:
            time.sleep(self.seconds)  # a slower env
            return True

    plain, piped = wall(False), wall(True)
    # 3 rollouts: plain waits about 3 x 0.25 s at the rollout ends; piped hides most of it
    assert piped < plain - 0.3, (plain, piped)
