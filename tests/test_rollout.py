"""RolloutConsent reads episode records from any Gymnasium vector info layout."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from consent_gym import ConsentRecorder, RolloutConsent


def test_record_step_finds_records_under_final_info_with_same_step_autoreset(approve_all):
    # SAME_STEP puts the ended episode's info (with the recorder's record) under
    # infos["final_info"]; the top level holds the reset info of the next episode.
    envs = gym.make_vec(
        "CartPole-v1", num_envs=2, vectorization_mode="sync", wrappers=[ConsentRecorder],
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    envs.reset(seed=0)
    consent = RolloutConsent(approve_all, 2, gamma=1.0, gae_lambda=1.0)
    T = 40
    rewards = np.zeros((T, 2))
    starts = np.zeros((T, 2), dtype=bool)
    done = np.zeros(2, dtype=bool)
    for t in range(T):
        starts[t] = done
        _, rewards[t], term, trunc, infos = envs.step(np.zeros(2, dtype=int))
        done = np.logical_or(term, trunc)
        consent.record_step(t, done, infos)
    batch = consent.process({}, rewards=rewards, values=np.zeros((T, 2)), starts=starts)
    # Always pushing left ends CartPole within ~10 steps: several whole episodes per env.
    assert len(batch.decisions) >= 4 and all(d.approved for d in batch.decisions)
    lengths = [d.piece.steps for d in batch.decisions]
    assert sum(lengths) == len(batch) == int(batch.trainable.sum())
    assert consent.held_back_steps == 2 * T - len(batch)
    envs.close()


def test_next_step_autoreset_is_reported_with_the_fix(approve_all):
    # NEXT_STEP: the step after an episode's end only resets; a loop that stores it hands
    # the next episode one step more than the recorder saw.
    envs = gym.make_vec("CartPole-v1", num_envs=1, vectorization_mode="sync",
                        wrappers=[ConsentRecorder])
    envs.reset(seed=0)
    consent = RolloutConsent(approve_all, 1)
    T = 40
    starts = np.zeros((T, 1), dtype=bool)
    done = np.zeros(1, dtype=bool)
    for t in range(T):
        starts[t] = done
        _, _, term, trunc, infos = envs.step(np.zeros(1, dtype=int))
        done = np.logical_or(term, trunc)
        consent.record_step(t, done, infos)
    with pytest.raises(RuntimeError, match=r"AutoresetMode\.SAME_STEP"):
        consent.process({}, rewards=np.zeros((T, 1)), values=np.zeros((T, 1)), starts=starts)
    envs.close()
