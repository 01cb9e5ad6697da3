"""ConsentVectorWrapper: same accounting as the single wrapper, one judge call per step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from consent_gym.judges import RuleJudge, Verdict
from consent_gym.render.delivery import DeliveryRenderer
from consent_gym.vector import ConsentVectorWrapper
from tests.fakes import CountingEnv, NaNRewardEnv

no_harm = RuleJudge(lambda text: "hit pedestrian" not in text, name="no-harm")


class BatchRecordingJudge:
    judge_id = "batches"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def judge_batch(self, texts):
        self.batches.append(list(texts))
        return [Verdict("hit pedestrian" not in t, 1.0, self.judge_id) for t in texts]


def make_vec(specs, mode=AutoresetMode.NEXT_STEP):
    fns = [lambda kw=kw: CountingEnv(**kw) for kw in specs]
    return SyncVectorEnv(fns, autoreset_mode=mode)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_released_rewards_match_the_single_env_wrapper(mode):
    specs = [
        {"length": 3, "reward": 1.0, "tag": 0},
        {"length": 4, "reward": 2.0, "tag": 1, "harm_at": 2},
        {"length": 4, "reward": 0.5, "tag": 2, "harm_at": 4},  # harm on the very last step
    ]
    envs = ConsentVectorWrapper(make_vec(specs, mode), judge=no_harm)
    envs.reset(seed=0)
    per_env: list[list[float]] = [[], [], []]
    outcomes: list[list[str]] = [[], [], []]
    for _ in range(40):
        _, rewards, _, _, infos = envs.step(np.zeros(3, dtype=int))
        for i in range(3):
            per_env[i].append(float(rewards[i]))
            if infos.get("_consent", np.zeros(3, bool))[i]:
                outcomes[i].append(infos["consent"][i]["outcome"])
    # Env 0 is always approved and releases exactly 3 per episode; 1 and 2 are always vetoed.
    assert set(outcomes[0]) == {"approved"} and len(outcomes[0]) >= 9
    assert set(outcomes[1]) == {"vetoed"} and set(outcomes[2]) == {"vetoed"}
    assert sum(per_env[0]) == 3.0 * len(outcomes[0])
    assert sum(per_env[1]) == 0.0 and sum(per_env[2]) == 0.0
    assert all(r in (0.0, 3.0) for r in per_env[0])


def test_episodes_ending_together_share_one_judge_call():
    judge = BatchRecordingJudge()
    envs = ConsentVectorWrapper(make_vec([{"length": 5, "tag": i} for i in range(4)]), judge=judge)
    envs.reset(seed=0)
    for _ in range(17):  # 5 steps + 1 reset step per episode in NEXT_STEP mode
        envs.step(np.zeros(4, dtype=int))
    assert [len(b) for b in judge.batches] == [4, 4, 4]
    assert envs.judge_calls == 3 and envs.episodes_judged == 12
    assert all(b[0].startswith("Environment: ") for b in judge.batches[:1])


def test_disabled_autoreset_with_reset_mask():
    envs = ConsentVectorWrapper(
        make_vec([{"length": 2}, {"length": 3}], AutoresetMode.DISABLED), judge=no_harm
    )
    envs.reset(seed=0)
    envs.step(np.zeros(2, dtype=int))
    _, rewards, term, _, _ = envs.step(np.zeros(2, dtype=int))
    assert rewards.tolist() == [2.0, 0.0] and term.tolist() == [True, False]
    envs.reset(options={"reset_mask": np.array([True, False])})
    _, rewards, _, _, _ = envs.step(np.zeros(2, dtype=int))
    assert rewards.tolist() == [0.0, 3.0]


def test_trajectories_are_snapshots_of_the_running_episodes():
    envs = ConsentVectorWrapper(make_vec([{"length": 3}, {"length": 4, "tag": 1}]), judge=no_harm)
    assert envs.trajectories == [None, None]
    envs.reset(seed=0)
    envs.step(np.array([1, 0]))
    first, second = envs.trajectories
    envs.step(np.array([0, 0]))
    assert first is not None and second is not None
    assert [len(first), len(second)] == [1, 1]  # taken before the second step
    assert [s.action for s in first.steps] == [1] and second.episode_index == 1
    assert [len(t) for t in envs.trajectories if t is not None] == [2, 2]


def test_delivery_env_uses_its_own_renderer():
    envs = ConsentVectorWrapper(
        gym.make_vec("consent_gym/DeliveryCurb-v0", num_envs=2, vectorization_mode="sync"),
        judge=no_harm,
    )
    assert isinstance(envs.renderer, DeliveryRenderer)


def test_bad_input():
    with pytest.raises(TypeError, match="ConsentWrapper"):
        ConsentVectorWrapper(CountingEnv())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_veto"):
        ConsentVectorWrapper(make_vec([{}]), on_veto="block")
    envs = ConsentVectorWrapper(SyncVectorEnv([lambda: NaNRewardEnv(length=5)]), judge=no_harm)
    with pytest.raises(gym.error.ResetNeeded):
        envs.step(np.zeros(1, dtype=int))
    envs.reset(seed=0)
    envs.step(np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match="non-finite rewards"):
        envs.step(np.zeros(1, dtype=int))
