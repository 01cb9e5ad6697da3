"""ConsentWrapper: exact reward accounting, pass-through mode, vector envs, bad input."""

from __future__ import annotations

import functools
import math

import gymnasium as gym
import minigrid  # noqa: F401  (registers MiniGrid-* ids)
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from consent_gym import ConsentWrapper, read_audit_log
from consent_gym.judges import JudgeError, RuleJudge
from tests.fakes import (
    CountingEnv,
    DictObsEnv,
    NaNJudge,
    NaNRewardEnv,
    RaisingJudge,
    RecordingJudge,
    WrongCountJudge,
    run_episode,
)

no_harm = RuleJudge(lambda text: "hit pedestrian" not in text, name="no-harm")


@pytest.mark.parametrize(
    "make_env",
    [
        lambda: gym.make("CartPole-v1"),
        lambda: gym.make("MountainCarContinuous-v0"),
        lambda: DictObsEnv(),
        lambda: gym.make("MiniGrid-Empty-5x5-v0"),
    ],
    ids=["cartpole", "mountaincar-continuous", "dict-obs", "minigrid"],
)
def test_check_env_passes_on_wrapped_envs(make_env, approve_all):
    env = ConsentWrapper(make_env(), judge=approve_all)
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("seed", range(3))
def test_approved_episode_releases_exact_unwrapped_return(seed, approve_all):
    raw_rewards, _ = run_episode(gym.make("CartPole-v1"), seed=seed, action=1)
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all)
    rewards, info = run_episode(env, seed=seed, action=1)
    assert rewards[:-1] == [0.0] * (len(rewards) - 1)
    assert rewards[-1] == pytest.approx(sum(raw_rewards), abs=0)
    assert info["consent"]["episode_return"] == sum(raw_rewards)
    assert info["consent"]["reward_released"] == sum(raw_rewards)
    assert info["consent"]["outcome"] == "approved"


def test_vetoed_episode_releases_zero():
    env = ConsentWrapper(CountingEnv(length=4, harm_at=2), judge=no_harm)
    rewards, info = run_episode(env)
    assert rewards == [0.0, 0.0, 0.0, 0.0]
    assert info["consent"]["approved"] is False
    assert info["consent"]["episode_return"] == 4.0
    assert info["consent"]["reward_released"] == 0.0


def test_penalty_mode_releases_penalty_on_veto_and_return_on_approval():
    vetoed = ConsentWrapper(CountingEnv(length=3, harm_at=1), judge=no_harm, on_veto="penalty",
                            penalty=-50.0)
    rewards, _ = run_episode(vetoed)
    assert rewards == [0.0, 0.0, -50.0]
    approved = ConsentWrapper(CountingEnv(length=3), judge=no_harm, on_veto="penalty")
    rewards, _ = run_episode(approved)
    assert rewards == [0.0, 0.0, 3.0]


def test_passthrough_mode_keeps_rewards_and_marks_pending():
    env = ConsentWrapper(CountingEnv(length=3, reward=2.0), defer_rewards=False)
    rewards, info = run_episode(env)
    assert rewards == [2.0, 2.0, 2.0]
    assert info["consent"]["pending"] is True
    assert "The episode lasted 3 steps." in info["consent"]["text"]
    assert "approved" not in info["consent"]


def test_render_episode_renders_running_fragment():
    env = ConsentWrapper(CountingEnv(length=10), defer_rewards=False)
    env.reset(seed=0)
    for _ in range(4):
        env.step(0)
    assert "4 steps" in env.render_episode()
    fragment = env.render_episode(start=2)
    assert "4 steps (shown from step 3)" in fragment  # the default renderer counts from 1
    assert "Still running" in fragment


def test_trajectory_is_a_snapshot_while_running_and_the_episode_once_ended(approve_all):
    env = ConsentWrapper(CountingEnv(length=3), judge=approve_all)
    assert env.trajectory is None
    with pytest.raises(gym.error.ResetNeeded, match="no episode recorded"):
        env.render_episode()
    env.reset(seed=0)
    env.step(1)
    snapshot = env.trajectory
    env.step(0)
    assert snapshot is not None and len(snapshot) == 1  # later steps do not leak in
    assert [(s.index, s.action, s.observation.tolist()) for s in snapshot.steps] == [
        (0, 1, [0.0, 0.0])
    ]
    env.step(0)
    ended = env.trajectory
    assert ended is not None and ended.finished and len(ended) == 3
    assert [s.observation[1] for s in ended.steps] == [0, 1, 2]  # the obs each action left
    assert env.render_episode(start=1) == env.renderer.render(ended.fragment(1))
    with pytest.raises(ValueError, match="lies before"):
        env.reset()
        env.render_episode(start=-1)


def test_episode_indices_count_up_and_audit_log_records_each(tmp_path):
    path = tmp_path / "audit.jsonl"
    env = ConsentWrapper(CountingEnv(length=2, harm_at=1), judge=no_harm, audit_log=path)
    infos = [run_episode(env, seed=s)[1]["consent"] for s in range(3)]
    env.close()
    assert [i["episode_index"] for i in infos] == [0, 1, 2]
    records = list(read_audit_log(path))
    assert [r["episode_index"] for r in records] == [0, 1, 2]
    assert all(r["outcome"] == "vetoed" and r["reward_released"] == 0.0 for r in records)
    assert records[0]["text_sha256"] == infos[0]["text_sha256"]


def test_unfinished_episode_is_dropped_on_reset(approve_all):
    env = ConsentWrapper(CountingEnv(length=5), judge=approve_all)
    env.reset(seed=0)
    env.step(0)
    _, info = run_episode(env)
    assert info["consent"]["episode_index"] == 1
    assert info["consent"]["length"] == 5


@pytest.mark.parametrize("judge", [RaisingJudge(), WrongCountJudge(), NaNJudge()],
                         ids=["raises", "wrong-count", "nan"])
def test_failing_judge_never_approves(judge):
    env = ConsentWrapper(CountingEnv(length=2), judge=judge)
    rewards, info = run_episode(env)
    assert rewards == [0.0, 0.0]
    assert info["consent"]["outcome"] == "failed"
    assert info["consent"]["approved"] is False
    assert "judge error" in info["consent"]["reason"]


def test_failing_judge_raises_when_asked():
    env = ConsentWrapper(CountingEnv(length=2), judge=WrongCountJudge(), on_judge_error="raise")
    with pytest.raises(JudgeError, match="returned 2 verdicts for 1 texts"):
        run_episode(env)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"on_veto": "explode"}, ValueError, "on_veto='explode' is not supported"),
        ({"on_veto": "block"}, ValueError, "consent_gym.sb3"),
        ({"penalty": math.inf}, ValueError, "penalty must be a finite number"),
        ({"on_judge_error": "maybe"}, ValueError, "on_judge_error='maybe'"),
        ({"judge": object()}, TypeError, "RuleJudge"),
        ({"renderer": object()}, TypeError, r"render\(trajectory\)"),
        ({"info_key": ""}, ValueError, "info_key"),
    ],
)
def test_bad_arguments_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConsentWrapper(CountingEnv(), **kwargs)


def test_non_env_argument_is_rejected():
    with pytest.raises(TypeError, match=r"gymnasium\.make"):
        ConsentWrapper("CartPole-v1")  # type: ignore[arg-type]


def test_judge_with_passthrough_is_rejected(approve_all):
    with pytest.raises(ValueError, match="pass the judge to the learner"):
        ConsentWrapper(CountingEnv(), judge=approve_all, defer_rewards=False)


def test_nan_reward_raises(approve_all):
    env = ConsentWrapper(NaNRewardEnv(length=4), judge=approve_all)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(ValueError, match="finite rewards"):
        env.step(0)


def test_step_before_reset_raises(approve_all):
    env = ConsentWrapper(CountingEnv(), judge=approve_all)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_info_key_collision_is_an_error(approve_all):
    class Clashing(CountingEnv):
        def step(self, action):
            obs, r, term, trunc, info = super().step(action)
            info["consent"] = "mine"
            return obs, r, term, trunc, info

    env = ConsentWrapper(Clashing(length=1), judge=approve_all)
    env.reset()
    with pytest.raises(ValueError, match="info_key"):
        env.step(0)
    env = ConsentWrapper(Clashing(length=1), judge=approve_all, info_key="consent_gym")
    env.reset()
    assert env.step(0)[4]["consent"] == "mine"


def test_spec_records_judge_without_copying_it(approve_all):
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all)
    wrapper_spec = env.spec.additional_wrappers[-1]
    assert wrapper_spec.name == "ConsentWrapper"
    assert wrapper_spec.kwargs["judge"] is approve_all


def test_gymnasium_vector_env_keeps_sub_env_episodes_apart():
    judge = RecordingJudge()
    lengths = [2, 3, 5]
    vec = gym.vector.SyncVectorEnv(
        [functools.partial(lambda i: ConsentWrapper(CountingEnv(length=lengths[i], tag=i),
                                                    judge=judge), i) for i in range(3)]
    )
    vec.reset(seed=0)
    released = np.zeros(3)
    for _ in range(12):
        _, rewards, _, _, _ = vec.step(np.zeros(3, dtype=int))
        released += rewards
    # Every judged text describes exactly one sub-env's episode of its own length.
    assert judge.texts, "no episode was judged"
    for text in judge.texts:
        assert any(f"{n} steps." in text.splitlines()[0] for n in lengths)
    # Completed episodes release exactly their length in reward (1 per step).
    for i, n in enumerate(lengths):
        assert released[i] % n == 0 and released[i] > 0


def test_make_vec_with_wrapper_list(approve_all):
    vec = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
                       wrappers=[functools.partial(ConsentWrapper, judge=approve_all)])
    vec.reset(seed=1)
    total = np.zeros(2)
    for _ in range(200):
        _, r, _, _, _ = vec.step(np.ones(2, dtype=int))
        total += r
    assert total.sum() > 0


def test_sb3_make_vec_env_wrapper_class(approve_all):
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=ConsentWrapper,
                       wrapper_kwargs={"judge": approve_all})
    vec.reset()
    outcomes = []
    for _ in range(100):
        _, _, dones, infos = vec.step(np.ones(2, dtype=int))
        outcomes += [info["consent"]["outcome"] for info, d in zip(infos, dones, strict=True) if d]
    assert outcomes and set(outcomes) == {"approved"}
