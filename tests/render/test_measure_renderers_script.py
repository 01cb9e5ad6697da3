"""scripts/measure_renderers.py collects the same episodes for the same seed, also from an
env that rebuilds its action space on every reset (highway-env's envs do)."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym

from tests.fakes import RebuildsItsSpacesEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from measure_renderers import collect


def test_random_episodes_repeat_for_the_same_seed_though_reset_rebuilds_the_action_space():
    gym.register("consent_gym_test/RebuildsItsSpaces-v0", entry_point=RebuildsItsSpacesEnv)
    try:
        first = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 0, None)
        again = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 0, None)
        other = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 1, None)
    finally:
        del gym.registry["consent_gym_test/RebuildsItsSpaces-v0"]
    assert [r["text"] for r in first] == [r["text"] for r in again]
    assert [r["text"] for r in first] != [r["text"] for r in other]
    assert {r["policy"] for r in first} == {"careful", "random"}
