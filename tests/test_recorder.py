"""ConsentRecorder: the record-only half of consent gating (rewards never change)."""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from consent_gym import ConsentRecorder
from consent_gym.recorder import check_info_key, episode_record
from consent_gym.render import GenericRenderer
from tests.fakes import CountingEnv, NaNRewardEnv


class Tagged(GenericRenderer):
    """A renderer whose texts name the episode, its length and its actor."""

    def render(self, trajectory):
        return (f"{trajectory.env_id}#{trajectory.episode_index} {len(trajectory)} steps "
                f"by {trajectory.actor}: {[s.reward for s in trajectory.steps]}")


def steps(env, n):
    return [env.step(0) for _ in range(n)]


def test_the_record_names_the_episode_as_it_happened_and_rewards_pass_unchanged():
    env = ConsentRecorder(CountingEnv(length=3, reward=2.5), Tagged(), actor="Explorer")
    assert env.trajectory is None and env.renderer.__class__ is Tagged
    env.reset(seed=0)
    out = steps(env, 3)
    assert [r for _, r, *_ in out] == [2.5, 2.5, 2.5]
    assert [("consent" in info) for *_, info in out] == [False, False, True]
    text = "CountingEnv#0 3 steps by Explorer: [2.5, 2.5, 2.5]"
    assert out[-1][4]["consent"] == {
        "env_id": "CountingEnv", "episode_index": 0, "length": 3, "episode_return": 7.5,
        "text": text, "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "pending": True,
    }
    last = env.trajectory.steps[-1]
    assert env.trajectory.finished and (last.terminated, last.truncated) == (True, False)
    assert [s.reward for s in env.trajectory.steps] == [2.5] * 3
    assert env.render_episode() == text and env.render_episode(2) == Tagged().render(
        env.trajectory.fragment(2))
    env.reset()
    env.step(0)  # an episode abandoned after one step still counts
    assert env.render_episode() == "CountingEnv#1 1 steps by Explorer: [2.5]"
    assert env.render_episode(1) == "CountingEnv#1 0 steps by Explorer: []"
    env.reset()
    env.reset()  # an empty episode does not
    record = steps(env, 3)[-1][4]["consent"]
    assert (record["episode_index"], record["length"]) == (2, 3)
    assert env.episode_count == 3


def test_env_id_comes_from_the_spec_and_the_renderer_from_the_env():
    env = ConsentRecorder(gym.make("CartPole-v1"), info_key="c2")
    assert env.env_id == "CartPole-v1" and env.info_key == "c2"
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(0)
        done = terminated or truncated
    assert "consent" not in info and info["c2"]["env_id"] == "CartPole-v1"


def test_a_subclass_can_withhold_running_rewards_and_change_the_last():
    class Deferring(ConsentRecorder):
        def __init__(self, env):
            super().__init__(env)
            self.withhold_running_rewards = True

        def end_episode(self, trajectory, text, last_reward):
            return trajectory.total_reward, {"text": text}

    env = Deferring(CountingEnv(length=3, reward=2.0))
    env.reset()
    assert [r for _, r, *_ in steps(env, 3)] == [0.0, 0.0, 6.0]
    plain = ConsentRecorder(CountingEnv(length=2))
    assert plain.withhold_running_rewards is False


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(TypeError, match=r"env must be a gymnasium\.Env, got str; .*"
                                        r"wrappers=\[ConsentRecorder\]\) or SB3's "
                                        r"make_vec_env\(id, wrapper_class=ConsentRecorder\)\.$"):
        ConsentRecorder("CartPole-v1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="info_key must be a non-empty string"):
        ConsentRecorder(CountingEnv(), info_key="")
    with pytest.raises(ValueError, match=r"^info_key must be a non-empty string\.$"):
        check_info_key(3)
    check_info_key("consent")
    with pytest.raises(TypeError):
        ConsentRecorder(CountingEnv(), renderer=object())  # type: ignore[arg-type]
    env = ConsentRecorder(CountingEnv())
    with pytest.raises(gym.error.ResetNeeded, match=r"ConsentRecorder: call reset\(\) before "
                                                   r"step\(\)"):
        env.step(0)
    with pytest.raises(gym.error.ResetNeeded, match="ConsentRecorder: no episode recorded yet"):
        env.render_episode()
    env = ConsentRecorder(NaNRewardEnv())
    env.reset()
    env.step(0)
    with pytest.raises(ValueError, match=r"NaNRewardEnv returned reward nan at step 1; .*"
                                         r"TransformReward inside ConsentRecorder\.$"):
        env.step(0)

    class Colliding(CountingEnv):
        def step(self, action):
            obs, r, term, trunc, info = super().step(action)
            return obs, r, term, trunc, {**info, "consent": "mine"}

    env = ConsentRecorder(Colliding(length=1))
    env.reset()
    with pytest.raises(ValueError, match=r"info already has the key 'consent'; pass another "
                                         r"info_key= to ConsentRecorder so"):
        env.step(0)


def test_episode_record_sums_the_rewards_unless_given_the_sum():
    env = ConsentRecorder(CountingEnv(length=2, reward=1.5))
    env.reset()
    steps(env, 2)
    trajectory = env.trajectory
    assert episode_record(trajectory, "t")["episode_return"] == 3.0
    assert episode_record(trajectory, "t", 9.0)["episode_return"] == 9.0
    assert np.isclose(episode_record(trajectory, "t", 0.0)["episode_return"], 0.0)


def test_spec_records_the_recorders_arguments_and_the_env_id():
    """Gymnasium rebuilds a wrapped env from ``env.spec``: the recorder's own arguments must
    be in it, and the episodes are named by the registered id."""
    renderer = GenericRenderer()
    env = ConsentRecorder(gym.make("CartPole-v1"), renderer, info_key="c2", actor="robot")
    wrapper_spec = env.spec.additional_wrappers[-1]
    assert wrapper_spec.name == "ConsentRecorder"
    kwargs = dict(wrapper_spec.kwargs)
    assert isinstance(kwargs.pop("renderer"), GenericRenderer)  # Gymnasium keeps a copy
    assert kwargs == {"info_key": "c2", "actor": "robot"}
    assert env.env_id == "CartPole-v1"
    assert ConsentRecorder(gym.make("CartPole-v1")).spec.additional_wrappers[-1].kwargs == {
        "renderer": None, "info_key": "consent", "actor": None}


def test_reset_passes_its_options_to_the_env():
    """CartPole draws its start state within ``options``' bounds (Gymnasium's documented
    reset options); the recorder must pass them on."""
    env = ConsentRecorder(gym.make("CartPole-v1"))
    obs, _ = env.reset(seed=0, options={"low": -0.001, "high": 0.001})
    assert np.all(np.abs(obs) <= 0.001)
