"""The harmless-env suite: real envs, default renderers, the competent policies."""

from __future__ import annotations

import random

import gymnasium as gym
import pytest

from consent_gym.render import renderer_for
from consent_gym.suites.harmless import (
    HARMLESS_ENVS,
    HELD_OUT_2_HARMLESS_ENVS,
    HELD_OUT_HARMLESS_ENVS,
    competent_action,
    harmless_episodes,
    newest_id,
    reseeded_action_space,
)
from tests.fakes import RebuildsItsSpacesEnv


def test_suites_are_disjoint_and_large_enough():
    assert not set(HARMLESS_ENVS) & set(HELD_OUT_HARMLESS_ENVS)
    assert len(HARMLESS_ENVS) + len(HELD_OUT_HARMLESS_ENVS) >= 10
    assert any("Lava" in e for e in HELD_OUT_HARMLESS_ENVS)


def test_second_held_out_list_is_new_registered_and_varied():
    import minigrid  # noqa: F401  (registers the MiniGrid ids)

    assert len(HELD_OUT_2_HARMLESS_ENVS) == len(set(HELD_OUT_2_HARMLESS_ENVS)) == 6
    assert not set(HELD_OUT_2_HARMLESS_ENVS) & (set(HARMLESS_ENVS) | set(HELD_OUT_HARMLESS_ENVS))
    assert all(e in gym.registry for e in HELD_OUT_2_HARMLESS_ENVS)
    assert any(not e.startswith("MiniGrid-") for e in HELD_OUT_2_HARMLESS_ENVS)


def test_second_held_out_list_plays_with_both_policies():
    rows = harmless_episodes(HELD_OUT_2_HARMLESS_ENVS, 1, 0)
    assert [(r["env_id"], r["policy"]) for r in rows] == [
        (e, p) for e in HELD_OUT_2_HARMLESS_ENVS for p in ("random", "competent")]
    assert all(r["acceptable"] is True and r["tag"] == r["env_id"] and r["text"] for r in rows)
    for r in rows:  # each env's default renderer: MiniGrid's, else the narrative one
        assert r["text"].startswith("Mission:" if r["env_id"].startswith("MiniGrid-")
                                    else f"Environment: {r['env_id']}")


def test_rows_are_the_default_renderers_texts():
    rows = harmless_episodes(["CliffWalking-v1", "MiniGrid-Empty-5x5-v0"], 2, seed=3)
    assert [(r["env_id"], r["policy"]) for r in rows] == [
        (e, p) for e in ("CliffWalking-v1", "MiniGrid-Empty-5x5-v0")
        for p in ("random", "competent") for _ in range(2)]
    assert all(r["acceptable"] is True and r["tag"] == r["env_id"] for r in rows)
    assert rows[0]["text"].startswith("Environment: CliffWalking-v1")
    assert rows[4]["text"].startswith("Mission:")  # the MiniGrid renderer, not the generic one
    assert harmless_episodes(["CliffWalking-v1"], 2, seed=3) == rows[:4]  # deterministic


@pytest.mark.parametrize("env_id,solved_return", [
    ("CliffWalking-v1", -13), (newest_id("Taxi"), 0), ("MiniGrid-LavaGapS5-v0", 0.5),
])
def test_competent_policy_solves_deterministic_envs(env_id, solved_return):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    scratch: dict = {}
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(
            competent_action(env, obs, random.Random(0), scratch))
        total += float(reward)
        done = terminated or truncated
    assert terminated and total >= solved_return


def test_competent_cartpole_balances_longer_than_random():
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, _ = env.step(
            competent_action(env, obs, random.Random(0), {}))
        steps += 1
        done = terminated or truncated
    assert steps >= 200


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="policies"):
        harmless_episodes(["CartPole-v1"], 1, policies=["greedy"])
    with pytest.raises(ValueError, match=">= 1"):
        harmless_episodes(["CartPole-v1"], 0)


def test_the_env_keeps_its_default_renderer():
    # The suite promises the renderer a user's ConsentWrapper would pick.
    env = gym.make("MiniGrid-Empty-5x5-v0")
    assert type(renderer_for(env)).__name__ == "MiniGridRenderer"


def test_newest_id_picks_the_newest_registered_version():
    assert newest_id("CartPole") == "CartPole-v1"
    assert newest_id("Taxi") in gym.registry and newest_id("Taxi").startswith("Taxi-v")
    with pytest.raises(ValueError, match="no version of the env 'NoSuchEnv'"):
        newest_id("NoSuchEnv")


def test_random_episodes_repeat_though_reset_rebuilds_the_action_space():
    """A seed set before the first reset would be thrown away by an env that builds a new
    action space on every reset; the suite seeds each new space, so its episodes repeat."""
    gym.register("consent_gym_test/RebuildsItsSpaces-v0", entry_point=RebuildsItsSpacesEnv,
                 max_episode_steps=12)
    try:
        runs = [harmless_episodes(["consent_gym_test/RebuildsItsSpaces-v0"], 3, seed,
                                  policies=("random",)) for seed in (0, 0, 1)]
    finally:
        del gym.registry["consent_gym_test/RebuildsItsSpaces-v0"]
    texts = [[r["text"] for r in rows] for rows in runs]
    assert texts[0] == texts[1] != texts[2]


def test_reseeded_action_space_seeds_only_a_space_that_reset_replaced():
    env = RebuildsItsSpacesEnv()
    first = env.action_space
    assert reseeded_action_space(env, first, 7) is first  # not replaced: left as it is
    env.reset(seed=0)
    a = reseeded_action_space(env, first, 7)
    draws = [a.sample() for _ in range(8)]
    env.reset(seed=0)
    b = reseeded_action_space(env, a, 7)
    assert b is not a and [b.sample() for _ in range(8)] == draws
    with pytest.raises(TypeError, match="seed must be an int"):
        reseeded_action_space(env, b, 1.5)  # type: ignore[arg-type]
