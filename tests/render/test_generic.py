"""GenericRenderer: any space to text, deterministic, collapsed, within budget."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gym.render import GenericRenderer, register_renderer, renderer_for, unregister_renderer
from consent_gym.render.generic import fit_lines, format_value, sanitize_text
from consent_gym.trajectory import Step, Trajectory

leaf_spaces = st.one_of(
    st.integers(1, 10).map(spaces.Discrete),
    st.integers(1, 40).map(lambda n: spaces.Box(-5.0, 5.0, shape=(n,), dtype=np.float32)),
    st.tuples(st.integers(1, 6), st.integers(1, 6)).map(
        lambda s: spaces.Box(0, 255, shape=s, dtype=np.uint8)
    ),
    st.lists(st.integers(2, 5), min_size=1, max_size=4).map(spaces.MultiDiscrete),
    st.integers(1, 20).map(spaces.MultiBinary),
    st.integers(1, 30).map(lambda n: spaces.Text(max_length=n)),
)
any_space = st.recursive(
    leaf_spaces,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: spaces.Tuple(tuple(xs))),
        st.dictionaries(st.sampled_from("abcde"), inner, min_size=1, max_size=3).map(spaces.Dict),
    ),
    max_leaves=5,
)


def random_trajectory(obs_space, act_space, n_steps: int, seed: int) -> Trajectory:
    obs_space.seed(seed)
    act_space.seed(seed + 1)
    rng = np.random.default_rng(seed)
    steps = []
    for i in range(n_steps):
        events = ({"type": "bumped", "where": i},) if rng.random() < 0.1 else ()
        steps.append(
            Step(i, obs_space.sample(), act_space.sample(), float(rng.integers(-1, 2)),
                 terminated=i == n_steps - 1, events=events)
        )
    return Trajectory("Random-v0", steps=steps)


@settings(max_examples=60, deadline=None)
@given(obs_space=any_space, act_space=any_space, n_steps=st.integers(0, 300),
       max_chars=st.integers(200, 3000), seed=st.integers(0, 2**16), with_obs=st.booleans())
def test_any_space_renders_deterministically_within_budget(
    obs_space, act_space, n_steps, max_chars, seed, with_obs
):
    renderer = GenericRenderer(max_chars=max_chars, include_observations=with_obs)
    trajectory = random_trajectory(obs_space, act_space, n_steps, seed)
    text = renderer.render(trajectory)
    assert text == renderer.render(random_trajectory(obs_space, act_space, n_steps, seed))
    assert len(text) <= max_chars
    assert text.startswith(f"Episode 0 of Random-v0, {n_steps} steps.")
    assert all(ch == "\n" or ch.isprintable() for ch in text)
    assert text.splitlines()[-1].startswith("Ended" if n_steps else "Still running")


def test_repeated_steps_collapse_and_events_are_preferred():
    steps = [Step(i, np.zeros(3), 1, 0.0) for i in range(4, 20)]
    steps.append(Step(20, np.zeros(3), 0, 5.0, events=({"type": "hit_box", "contents": "empty"},)))
    text = GenericRenderer().render(Trajectory("X", steps=steps, start_index=4))
    assert "steps 4-19: action 1, reward 0" in text
    assert "step 20: hit box (contents: 'empty'); action 0, reward 5" in text


def test_budget_keeps_head_and_tail_with_marker():
    steps = [Step(i, i, i, float(i)) for i in range(500)]  # nothing repeats
    text = GenericRenderer(max_chars=400).render(Trajectory("X", steps=steps))
    lines = text.splitlines()
    assert lines[1].startswith("step 0:")
    assert lines[-2].startswith("step 499:")
    assert any(line.startswith("... ") and line.endswith(" lines omitted ...") for line in lines)
    omitted = int(next(line for line in lines if "omitted" in line).split()[1])
    assert omitted + len(lines) - 3 == 500


def test_action_names_and_observations():
    renderer = GenericRenderer(include_observations=True, action_names=["left", "right"])
    text = renderer.render(Trajectory("X", steps=[Step(0, np.array([0.5, 1.0]), 1, 1.0)]))
    assert "step 0: from [0.5, 1], action right, reward 1" in text


def test_control_characters_cannot_hide_in_text():
    text = sanitize_text("a\x1b[31mred\x00\u202eevil\ud800")
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "\\u001b" in text and "\\u202e" in text and "\\ud800" in text
    text.encode("utf-8")  # valid UTF-8 now


def test_format_value_summarises_large_arrays():
    assert format_value(np.arange(100).reshape(10, 10)) == "array(10x10, min 0, mean 49.5, max 99)"
    assert format_value((1, "x" * 100)).endswith("...')")


@pytest.mark.parametrize("kwargs", [{"max_chars": 10}, {"precision": 0}, {"max_chars": "big"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        GenericRenderer(**kwargs)


def test_fit_lines_returns_everything_when_it_fits():
    assert fit_lines("H", ["a", "b"], "F", 100) == "H\na\nb\nF"


def test_registry_prefers_env_method_then_mro_then_narrative_default():
    from gymnasium.envs.classic_control import CartPoleEnv

    from consent_gym.render import NarrativeRenderer

    class Custom:
        def render(self, trajectory):
            return "custom"

    class OwnRenderer(CartPoleEnv):
        def consent_renderer(self):
            return Custom()

    assert isinstance(renderer_for(gym.make("CartPole-v1")), NarrativeRenderer)
    register_renderer(CartPoleEnv, lambda env: Custom())
    try:
        assert isinstance(renderer_for(gym.make("CartPole-v1")), Custom)
    finally:
        unregister_renderer(CartPoleEnv)
    assert isinstance(renderer_for(OwnRenderer()), Custom)
    with pytest.raises(KeyError, match="no renderer registered"):
        unregister_renderer(CartPoleEnv)
    with pytest.raises(TypeError, match="must be a class"):
        register_renderer(42, lambda env: Custom())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="module:ClassName"):
        register_renderer("CartPole", lambda env: Custom())


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCarContinuous-v0", "FrozenLake-v1"])
def test_recorded_rows_and_steps_render_the_same_text(env_id: str) -> None:
    # The wrapper's trajectories are row-backed; users build theirs from Steps.
    from consent_gym import ConsentWrapper
    from consent_gym.judges import RuleJudge
    from tests.fakes import assert_rows_render_like_steps

    wrapper = ConsentWrapper(gym.make(env_id, max_episode_steps=60),
                             judge=RuleJudge(lambda t: True))
    renderers = [GenericRenderer(), GenericRenderer(include_observations=True),
                 GenericRenderer(max_chars=300)]
    assert_rows_render_like_steps(wrapper, renderers, range(10))
