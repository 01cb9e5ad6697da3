"""RolloutConsent: whole episodes judged before the update, running ones held back."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from consent_gym import ConsentRecorder, RolloutConsent
from consent_gym.gate import ConsentSettings
from consent_gym.judges import RuleJudge
from consent_gym.rollout import gae, sub_env_info


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


# ------------------------------------------------------------------ RolloutConsent itself
no_harm = RuleJudge(lambda text: "harm" not in text, name="no-harm")


def record(text: str, length: int, ret: float = 0.0, pending: bool = True) -> dict:
    return {"consent": {"text": text, "length": length, "episode_return": ret,
                        "env_id": "Toy-v0", "episode_index": 0, "pending": pending}}


def feed(consent: RolloutConsent, ends: dict[int, dict[int, dict]], T: int, N: int) -> None:
    """record_step for T steps; ``ends[t][e]`` is the info of sub-env e ending at step t."""
    for t in range(T):
        infos = [ends.get(t, {}).get(e, {}) for e in range(N)]
        consent.record_step(t, [e in ends.get(t, {}) for e in range(N)], infos)


def starts_from(ends: dict[int, dict[int, dict]], T: int, N: int, first=True) -> np.ndarray:
    starts = np.zeros((T, N), dtype=bool)
    starts[0] = first
    for t, per_env in ends.items():
        for e in per_env:
            if t + 1 < T:
                starts[t + 1, e] = True
    return starts


def test_episodes_are_judged_whole_and_running_ones_wait_for_their_end():
    consent = RolloutConsent(no_harm, 1, gamma=1.0, gae_lambda=1.0)
    obs = np.arange(4, dtype=np.float32).reshape(4, 1)
    # rollout 1: an episode ends at step 1; the next one runs on
    ends = {1: {0: record("fine", 2, 2.0)}}
    feed(consent, ends, 4, 1)
    batch = consent.process({"obs": obs}, rewards=np.ones((4, 1), np.float32),
                            values=np.zeros((4, 1), np.float32), starts=starts_from(ends, 4, 1))
    assert batch.arrays["obs"].tolist() == [0.0, 1.0] and batch.held_back == 2
    assert batch.arrays["advantages"].tolist() == [2.0, 1.0]  # gamma = lambda = 1, V = 0
    assert batch.trainable[:, 0].tolist() == [True, True, False, False]
    # rollout 2: that episode ends (5 steps, harmful): judged once, with its held-back steps
    ends = {2: {0: record("harm", 5, 5.0)}}
    feed(consent, ends, 4, 1)
    batch = consent.process({"obs": obs + 10}, rewards=np.ones((4, 1), np.float32),
                            values=np.zeros((4, 1), np.float32),
                            starts=starts_from(ends, 4, 1, first=False))
    assert batch.arrays["obs"].tolist() == [2.0, 3.0, 10.0, 11.0, 12.0]
    assert batch.arrays["rewards"].tolist() == [0.0] * 5  # zero mode
    (decision,) = batch.decisions
    assert (decision.piece.steps, decision.piece.start, decision.approved) == (5, 0, False)
    assert consent.stats.judged == 2 and consent.stats.judge_calls == 2


@pytest.mark.parametrize(("mode", "kept", "penalties"), [("block", 0, 0), ("penalty", 3, 1)])
def test_block_drops_and_penalty_charges_once(mode, kept, penalties):
    consent = RolloutConsent(no_harm, 2, mode=mode, penalty=-9.0)
    ends = {2: {0: record("harm", 3), 1: record("fine", 3)}}
    feed(consent, ends, 3, 2)
    batch = consent.process({}, rewards=np.ones((3, 2)), values=np.zeros((3, 2)),
                            starts=starts_from(ends, 3, 2))
    rewards = batch.arrays["rewards"].tolist()
    assert len(rewards) == 3 + kept and rewards.count(-9.0) == penalties
    assert rewards[-3:] == [1.0, 1.0, 1.0]  # sub-env 1's approved episode, as earned


def test_torch_tensors_come_back_as_tensors_of_the_same_dtype():
    consent = RolloutConsent(no_harm, 1, gamma=0.5, gae_lambda=1.0)
    ends = {1: {0: record("fine", 2)}}
    feed(consent, ends, 2, 1)
    batch = consent.process(
        {"logprobs": torch.tensor([[-1.0], [-2.0]], dtype=torch.float64)},
        rewards=torch.ones((2, 1)), values=torch.zeros((2, 1)),
        starts=torch.tensor([[True], [False]]),
    )
    assert isinstance(batch.arrays["logprobs"], torch.Tensor)
    assert batch.arrays["logprobs"].dtype == torch.float64
    assert batch.arrays["advantages"].dtype == torch.float32
    assert batch.arrays["advantages"].tolist() == [1.5, 1.0] and len(batch) == 2


def test_gae_matches_the_textbook_recursion():
    r, v = np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.2, 0.1])
    g, lam = 0.9, 0.8
    d = [r[0] + g * v[1] - v[0], r[1] + g * v[2] - v[1], r[2] - v[2]]
    want = [d[0] + g * lam * (d[1] + g * lam * d[2]), d[1] + g * lam * d[2], d[2]]
    np.testing.assert_allclose(gae(r, v, g, lam), want)


def test_a_reset_before_the_end_drops_the_held_back_steps():
    consent = RolloutConsent(no_harm, 1)
    feed(consent, {}, 3, 1)
    consent.process({}, rewards=np.ones((3, 1)), values=np.zeros((3, 1)),
                    starts=np.array([[True], [False], [False]]))
    assert consent.held_back_steps == 3
    ends = {1: {0: record("fine", 2)}}
    feed(consent, ends, 2, 1)  # the env was reset (a new learn()): that episode never ends
    batch = consent.process({}, rewards=np.ones((2, 1)), values=np.zeros((2, 1)),
                            starts=np.array([[True], [False]]))
    assert consent.stats.dropped_unjudged_steps == 3 and len(batch) == 2


def test_max_carry_steps_keeps_only_the_newest_held_back_steps():
    consent = RolloutConsent(no_harm, 1, max_carry_steps=2)
    feed(consent, {}, 3, 1)
    with pytest.warns(UserWarning, match="max_carry_steps=2"):
        consent.process({"obs": np.array([[0.0], [1.0], [2.0]])}, rewards=np.ones((3, 1)),
                        values=np.zeros((3, 1)), starts=np.array([[True], [False], [False]]))
    ends = {0: {0: record("fine", 4)}}
    feed(consent, ends, 1, 1)
    batch = consent.process({"obs": np.array([[3.0]])}, rewards=np.ones((1, 1)),
                            values=np.zeros((1, 1)), starts=np.array([[False]]))
    assert batch.arrays["obs"].tolist() == [1.0, 2.0, 3.0]  # step 0 was dropped, counted
    assert consent.stats.dropped_unjudged_steps == 1
    assert batch.decisions[0].piece.start == 1


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(ValueError, match="num_envs"):
        RolloutConsent(no_harm, 0)
    with pytest.raises(ValueError, match="gamma"):
        RolloutConsent(no_harm, 1, gamma=1.5)
    with pytest.raises(ValueError, match="max_carry_steps"):
        RolloutConsent(no_harm, 1, max_carry_steps=-1)
    with pytest.raises(TypeError, match="ConsentSettings"):
        RolloutConsent(ConsentSettings(no_harm), 1, audit_log="x.jsonl")
    with pytest.raises(ValueError, match="mode"):
        RolloutConsent(no_harm, 1, mode="drop")  # type: ignore[arg-type]
    consent = RolloutConsent(no_harm, 1)
    with pytest.raises(RuntimeError, match="ConsentRecorder"):
        consent.record_step(0, [True], [{}])  # an episode ended without a record
    with pytest.raises(RuntimeError, match="already judged"):
        consent.record_step(0, [True], [record("x", 1, pending=False)])
    consent = RolloutConsent(no_harm, 1)
    feed(consent, {1: {0: record("fine", 2)}}, 3, 1)
    with pytest.raises(RuntimeError, match="disagree at step 1"):
        consent.process({}, rewards=np.ones((3, 1)), values=np.zeros((3, 1)),
                        starts=np.array([[True], [False], [False]]))  # step 2 starts nothing
    consent = RolloutConsent(no_harm, 1)
    feed(consent, {2: {0: record("fine", 2)}}, 3, 1)
    with pytest.raises(RuntimeError, match="recorded a 2-step episode"):
        consent.process({}, rewards=np.ones((3, 1)), values=np.zeros((3, 1)),
                        starts=np.array([[True], [False], [False]]))
    with pytest.raises(ValueError, match="sub-envs"):
        RolloutConsent(no_harm, 2).process({}, rewards=np.ones((3, 1)),
                                           values=np.zeros((3, 1)), starts=np.ones((3, 1)))


def test_sub_env_info_reads_nested_vector_infos_and_refuses_others():
    infos = {"consent": {"text": np.array(["a", "b"], dtype=object),
                         "_text": np.array([False, True])},
             "_consent": np.array([False, True])}
    assert sub_env_info(infos, 1) == {"consent": {"text": "b"}}
    assert sub_env_info(infos, 0) == {}
    with pytest.raises(TypeError, match="vector info dict"):
        sub_env_info(42, 0)


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
