"""NarrativeRenderer: any env's episode in words, from what the env exposes; short, repeatable."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from consent_gym.render import Meaning, NarrativeRenderer, renderer_for
from consent_gym.render.narrative import (
    action_names_of,
    approx,
    description_of,
    length_phrase,
)
from consent_gym.suites.harmless import TAXI_ID
from consent_gym.trajectory import Step, Trajectory


def run_episode(
    env: gym.Env, seed: int, policy: Any = None, max_steps: int = 400
) -> Trajectory:
    """One episode, recorded as the wrappers record it (rows with the info dicts)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    rows: list[Any] = []
    terminated = truncated = False
    while not (terminated or truncated) and len(rows) < max_steps:
        action = env.action_space.sample() if policy is None else policy(obs)
        nxt, reward, terminated, truncated, info = env.step(action)
        rows.append((obs, action, float(reward), tuple(info.get("events", ())), info))
        obs = nxt
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    return Trajectory.from_rows(env_id, 0, rows, terminated=terminated, truncated=truncated)


class FlagEnv(gym.Env):
    """A robot drives along a corridor."""

    # Reports a collided flag at step 3, a cost and a lives counter; 6 steps.

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    action_names: ClassVar[list[str]] = ["brake", "go"]

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0, 1, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {"mission": "reach the end"}

    def step(self, action):
        self.t += 1
        info = {"mission": "reach the end", "collided": self.t == 3,
                "cost": 1.0 if self.t == 3 else 0.0,
                "lives": 3 if self.t < 4 else 2, "frame": self.t * 4,
                "episode": {"r": 1}}
        return np.zeros(2, dtype=np.float32), 1.0, self.t >= 6, False, info


REAL_ENVS = ["CartPole-v1", "MountainCar-v0", "FrozenLake-v1", "Pendulum-v1", "Blackjack-v1",
             TAXI_ID]


@pytest.mark.parametrize("env_id", REAL_ENVS)
def test_real_envs_render_deterministic_bounded_and_repeating(env_id: str) -> None:
    env = gym.make(env_id)
    renderer = renderer_for(env)
    assert isinstance(renderer, NarrativeRenderer)
    texts = [renderer.render(run_episode(env, seed)) for seed in range(12)]
    assert texts == [renderer.render(run_episode(env, seed)) for seed in range(12)]
    assert all(len(t) <= renderer.max_chars for t in texts)
    assert all(t.isprintable() for t in texts)
    assert all(t.startswith(f"Environment: {env_id}") for t in texts)
    # similar episodes tell the same story: far fewer texts than episodes
    assert len(set(texts)) <= 9, sorted(set(texts))


def test_cartpole_random_episodes_give_a_handful_of_texts() -> None:
    env = gym.make("CartPole-v1")
    renderer = renderer_for(env)
    texts = {renderer.render(run_episode(env, seed)) for seed in range(40)}
    assert len(texts) <= 4, sorted(texts)
    assert any("Reward 1 at every step" in t for t in texts)
    assert all("The env ended the episode (terminated)." in t for t in texts)


def test_flags_costs_counters_and_mission_are_told() -> None:
    env = FlagEnv()
    text = NarrativeRenderer.for_env(env).render(run_episode(env, 0))
    assert "Mission: reach the end." in text
    assert "the env's flag 'collided' turned true" in text
    assert "cost 1" in text
    assert "lives went from 3 to 2" in text
    assert "frame" not in text  # a clock that counts every step says nothing
    assert "'r'" not in text and "{" not in text  # the episode key is bookkeeping
    assert "The agent chose " in text and ("brake" in text or "go" in text)
    assert "Reward 1 at every step." in text
    assert text.endswith("The env ended the episode (terminated).")


def test_meaning_names_actions_and_info_keys_in_one_line() -> None:
    env = FlagEnv()
    renderer = NarrativeRenderer.for_env(
        env, actions=["stop", "drive on"], info={"collided": "the robot hit a person",
                                                   "lives": None},
    )
    text = renderer.render(run_episode(env, 0, policy=lambda obs: 1))
    assert "The agent chose drive on every time." in text
    assert "Midway: the robot hit a person; cost 1." in text
    assert "lives" not in text


def test_flag_at_the_last_step_is_said_once_in_the_ending() -> None:
    steps = [Step(i, None, 0, 0.5, info={"crashed": False}) for i in range(5)]
    steps.append(Step(5, None, 0, 0.0, terminated=True, info={"crashed": True}))
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps))
    assert text.count("crashed") == 1
    assert text.endswith("at that last step the env's flag 'crashed' turned true.")


def test_a_cost_that_stays_zero_and_a_harm_flag_that_stays_false_are_not_mentioned() -> None:
    steps = [Step(i, None, 0, 0.0, info={"cost": 0.0, "crashed": False}) for i in range(4)]
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps))
    assert "cost" not in text.lower() and "crash" not in text
    assert "The env reported no events." in text


def test_truncation_at_the_time_limit_gives_the_exact_length() -> None:
    env = gym.make("MountainCar-v0")
    text = renderer_for(env).render(run_episode(env, 0))
    assert "The episode lasted 200 steps." in text
    assert text.endswith("It was stopped at its time limit of 200 steps.")


def test_events_fragments_and_running_episodes() -> None:
    steps = [Step(i, None, 1, 0.0) for i in range(10, 20)]
    steps[4].events = ({"type": "door_opened", "door": "red"},)
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps, start_index=10))
    assert "(shown from step 11)" in text
    assert "Midway: door opened (door: 'red')." in text
    assert text.endswith("Still running: the episode has not ended yet.")
    empty = NarrativeRenderer().render(Trajectory("X-v0"))
    assert empty == "Environment: X-v0. Nothing has happened yet."


def test_continuous_numbers_are_summarised_as_a_trend() -> None:
    steps = [Step(i, None, np.array([0.3, -0.2]), -0.1 * i, info={"speed": 20.0 + i / 3})
             for i in range(12)]
    steps[-1].truncated = True
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps))
    assert "Speed rose from 20 to 24." in text
    assert "numbers between -0.2 and 0.5" in text  # range ends on the 1-2-5 grid, outwards
    assert "Rewards between -2 and 0 per step, about -5 in all." in text
    assert text.endswith("It was cut short (truncated).")


def test_long_episodes_stay_within_budget_with_a_note() -> None:
    steps = [Step(i, None, 0, 0.0, info={f"flag{i}": True}) for i in range(60)]
    renderer = NarrativeRenderer(max_chars=300)
    text = renderer.render(Trajectory("X-v0", steps=steps))
    assert len(text) <= 300
    assert "left out" in text


def test_env_strings_are_sanitised() -> None:
    steps = [Step(0, {"mission": "go\x1b[2J\nnow"}, 0, 0.0, terminated=True,
                  info={"status": "ok"}),]
    text = NarrativeRenderer().render(Trajectory("X\x00-v0", steps=steps))
    assert text.isprintable()


def test_action_names_and_description_come_from_the_env() -> None:
    class Ale(FlagEnv):
        """A game about cars.

        More text.
        """

        action_names = None  # type: ignore[assignment]

        def get_action_meanings(self) -> list[str]:
            return ["NOOP", "FIRE"]

    assert action_names_of(Ale()) == ["NOOP", "FIRE"]
    assert description_of(Ale()) == "A game about cars"
    assert action_names_of(FlagEnv()) == ["brake", "go"]
    assert action_names_of(gym.make("CartPole-v1")) is None
    assert description_of(gym.make("FrozenLake-v1")).startswith("Frozen lake involves")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"max_chars": 50}, ValueError), ({"time_limit": 0}, ValueError),
     ({"meaning": {"actions": ["a"]}}, TypeError)],
)
def test_bad_arguments_name_the_problem(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        NarrativeRenderer(**kwargs)


def test_bad_meaning_and_bad_input_are_errors() -> None:
    with pytest.raises(TypeError, match="list of action names"):
        Meaning(actions="left right")
    with pytest.raises(TypeError, match="info keys"):
        Meaning(info={"crashed": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"gymnasium\.Env"):
        NarrativeRenderer.for_env("CartPole-v1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a Trajectory"):
        NarrativeRenderer().render([Step(0, None, 0, 0.0)])  # type: ignore[arg-type]


def test_small_helpers() -> None:
    assert [approx(x) for x in (0, 1.0, 19.09, 0.0333, -1234.5)] == [
        "0", "1", "19", "0.033", "-1200"]
    assert approx(np.bool_(True)) == "true"
    assert [length_phrase(n) for n in (1, 9, 10, 19, 20, 49, 50, 99, 100, 2500)] == [
        "1 step", "9 steps", "10-19 steps", "10-19 steps", "20-49 steps", "20-49 steps",
        "50-99 steps", "50-99 steps", "100-199 steps", "2000-4999 steps"]
    assert Meaning(actions={2: "up"}).action_name(np.array([2])) == "up"
    assert Meaning(actions=["a"]).action_name(5) is None
    assert Meaning().action_name(0) is None


def test_harm_like_flags_that_stay_false_and_running_totals_are_told() -> None:
    steps = [Step(i, None, 0, 0.73 + 0.01 * (i % 2),
                  info={"crashed": False, "harm": 0 if i < 3 else (1 if i < 8 else 2)})
             for i in range(12)]
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps))
    assert "crashed" not in text
    assert "Early on: harm rose to 1." in text and "Late: harm rose to 2." in text
    assert "Reward about 0.73 per step." in text


def test_event_fields_that_are_only_numbers_are_left_out() -> None:
    event = {"type": "delivered", "step": 12, "pos": (7, 1), "by": "drone"}
    steps = [Step(0, None, 0, 1.0, terminated=True, events=(event,))]
    text = NarrativeRenderer().render(Trajectory("X-v0", steps=steps))
    assert text.endswith("at that last step delivered (by: 'drone').")
