"""RolloutConsent: whole episodes judged before the update, running ones held back."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from consent_gym import ConsentRecorder, RolloutConsent, read_audit_log
from consent_gym.gate import ConsentSettings, ConsentStats
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
    feed(consent, {}, 2, 1)  # held back, then dropped by another reset: counted on top
    consent.process({}, rewards=np.ones((2, 1)), values=np.zeros((2, 1)),
                    starts=np.array([[True], [False]]))
    feed(consent, {}, 1, 1)
    consent.process({}, rewards=np.ones((1, 1)), values=np.zeros((1, 1)),
                    starts=np.array([[True]]))
    assert consent.stats.dropped_unjudged_steps == 3 + 2


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
    with pytest.raises(TypeError, match=r"vector info dict, got int\."):
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


def test_rewards_and_values_shaped_t_n_1_come_back_each_in_its_own_dtype():
    """[T, N, 1] columns (a critic's output) give the batch of [T, N] ones; each tensor
    returns in its own dtype (values float64 beside float32 rewards)."""
    ends = {1: {0: record("fine", 2)}, 2: {1: record("fine", 3)}}
    batches = []
    for shape in [(3, 2), (3, 2, 1)]:
        consent = RolloutConsent(no_harm, 2, gamma=0.5, gae_lambda=1.0)
        feed(consent, ends, 3, 2)
        batches.append(consent.process(
            {}, rewards=torch.ones(shape, dtype=torch.float32),
            values=torch.full(shape, 0.25, dtype=torch.float64),
            starts=torch.as_tensor(starts_from(ends, 3, 2))))
    flat, column = batches
    assert column.arrays["values"].dtype == torch.float64
    assert column.arrays["rewards"].dtype == column.arrays["returns"].dtype == torch.float32
    for name in ["rewards", "values", "advantages", "returns"]:
        assert column.arrays[name].tolist() == flat.arrays[name].tolist()
    # sub-env 0: r = 1, 1, V = .25: adv = [1 + .5*.25 - .25 + .5*.75, .75]
    assert column.arrays["advantages"].tolist()[:2] == [1.25, 0.75]


def test_record_step_errors_name_the_sub_env_the_step_and_the_key():
    consent = RolloutConsent(no_harm, 2, info_key="c2")
    with pytest.raises(RuntimeError, match=r"sub-env 1 ended an episode at step 4 without "
                                           r"info\['c2'\]"):
        consent.record_step(4, [False, True], [{}, record("x", 1)])
    with pytest.raises(RuntimeError, match="already judged"):  # no "pending": not pending
        consent.record_step(0, [True, False], [{"c2": {"text": "x", "length": 1}}, {}])
    with pytest.raises(ValueError, match="reshape"):  # three dones for two sub-envs
        consent.record_step(0, [False, False, True], [{}, {}, {"c2": {"text": "x"}}])
    consent = RolloutConsent(no_harm, 1)
    feed(consent, {3: {0: record("fine", 4)}}, 4, 1)  # step 3 of a 3-step rollout
    with pytest.raises(RuntimeError, match="record_step saw step 3 but the rollout has 3"):
        consent.process({}, rewards=np.ones((3, 1)), values=np.zeros((3, 1)),
                        starts=np.array([[True], [False], [False]]))


def test_ends_that_disagree_with_the_records_name_the_first_disagreement():
    consent = RolloutConsent(no_harm, 2)
    ends_seen = {1: {0: record("fine", 2)}}
    feed(consent, ends_seen, 4, 2)
    ends = np.zeros((4, 2), dtype=bool)
    ends[1, 0] = ends[2, 1] = True  # sub-env 1 "ended" at step 2 without a record
    with pytest.raises(RuntimeError, match=r"sub-env 1 ended an episode at step 2 without "
                                           r"info\['consent'\]"):
        consent.process({}, rewards=np.ones((4, 2)), values=np.zeros((4, 2)),
                        starts=starts_from(ends_seen, 4, 2), ends=ends)


def test_batch_dtypes_follow_the_inputs():
    """Passed-through arrays keep their dtype; rewards, advantages and returns are in the
    rewards' float dtype (float32 for integer rewards); trainable is bool; an empty batch
    keeps each array's trailing shape."""
    ends = {1: {0: record("fine", 2)}}
    obs = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    actions = np.array([[1, 0], [0, 1]], dtype=np.int64)
    for rewards, want in [(np.ones((2, 2)), np.float64), (np.ones((2, 2), np.float32),
                                                          np.float32),
                          (np.ones((2, 2), np.int64), np.float32)]:
        consent = RolloutConsent(no_harm, 2, gamma=0.5, gae_lambda=1.0)
        feed(consent, ends, 2, 2)
        batch = consent.process({"obs": obs, "actions": actions}, rewards=rewards,
                                values=np.full((2, 2), 0.25), starts=starts_from(ends, 2, 2))
        a = batch.arrays
        assert a["obs"].dtype == np.float32 and a["actions"].dtype == np.int64
        assert a["obs"].tolist() == obs[:, 0].tolist() and a["actions"].tolist() == [1, 0]
        for name in ["rewards", "advantages", "returns", "values"]:
            assert a[name].dtype == want, (name, rewards.dtype)
        assert a["advantages"].tolist() == [1.25, 0.75]
        assert batch.trainable.dtype == bool
        assert batch.trainable.tolist() == [[True, False], [True, False]]
    consent = RolloutConsent(no_harm, 2)
    feed(consent, {}, 2, 2)  # nothing ends: an empty batch
    batch = consent.process({"obs": obs, "actions": actions}, rewards=np.ones((2, 2)),
                            values=np.zeros((2, 2)),
                            starts=np.array([[True, True], [False, False]]))
    assert batch.arrays["obs"].shape == (0, 3) and batch.arrays["obs"].dtype == np.float32
    assert batch.arrays["actions"].dtype == np.int64 and len(batch) == 0


def test_audit_lines_of_a_rollout_name_each_episode_and_what_it_released(tmp_path):
    def rec(text, length, ret, env_id, index):
        return {"consent": {"text": text, "length": length, "episode_return": ret,
                            "env_id": env_id, "episode_index": index, "pending": True}}

    consent = RolloutConsent(no_harm, 2, mode="penalty", penalty=-9.0,
                             audit_log=tmp_path / "a.jsonl")
    feed(consent, {}, 2, 2)  # two steps of each sub-env's episode run on
    consent.process({}, rewards=np.ones((2, 2)), values=np.zeros((2, 2)),
                    starts=np.array([[True, True], [False, False]]))
    ends = {0: {1: rec("harm", 3, 3.0, "B-v0", 7)}, 2: {0: rec("fine", 5, 5.0, "A-v0", 4)}}
    feed(consent, ends, 3, 2)
    consent.process({}, rewards=np.ones((3, 2)), values=np.zeros((3, 2)),
                    starts=starts_from(ends, 3, 2, first=False))
    consent.record_step(0, [True, False], [{"consent": {"text": "fine", "pending": True}},
                                           {}])
    consent.process({}, rewards=np.ones((1, 2)), values=np.zeros((1, 2)),
                    starts=np.array([[True, False]]))
    keys = ["env_id", "episode_index", "env_index", "fragment_start", "steps_used",
            "episode_finished", "reward_released", "learner", "mode", "outcome"]
    lines = [{k: r[k] for k in keys} for r in read_audit_log(tmp_path / "a.jsonl")]
    assert lines == [
        {"env_id": "A-v0", "episode_index": 4, "env_index": 0, "fragment_start": 0,
         "steps_used": 5, "episode_finished": True, "reward_released": 5.0,
         "learner": "rollout", "mode": "penalty", "outcome": "approved"},
        {"env_id": "B-v0", "episode_index": 7, "env_index": 1, "fragment_start": 0,
         "steps_used": 3, "episode_finished": True, "reward_released": -9.0,
         "learner": "rollout", "mode": "penalty", "outcome": "vetoed"},
        # a record with only text and pending: unknown id and index, length as stepped
        {"env_id": "", "episode_index": -1, "env_index": 0, "fragment_start": 0,
         "steps_used": 1, "episode_finished": True, "reward_released": 0.0,
         "learner": "rollout", "mode": "penalty", "outcome": "approved"},
    ]


def test_the_max_carry_steps_warning_comes_once_and_points_at_the_caller():
    consent = RolloutConsent(no_harm, 1, max_carry_steps=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # two rollouts, each past the limit
            feed(consent, {}, 3, 1)
            consent.process({}, rewards=np.ones((3, 1)), values=np.zeros((3, 1)),
                            starts=np.array([[consent.held_back_steps == 0], [False],
                                             [False]]))
    assert consent.stats.dropped_unjudged_steps == 2 + 3
    assert len(caught) == 1 and caught[0].filename == __file__
    assert str(caught[0].message).startswith("sub-env 0: an episode ran past max_carry_steps=1")


def test_bounds_are_inclusive_and_the_stats_given_are_kept():
    stats = ConsentStats()
    consent = RolloutConsent(no_harm, 1, gamma=0.0, gae_lambda=0.0, max_carry_steps=0,
                             stats=stats)
    assert consent.stats is stats and (consent.gamma, consent.gae_lambda) == (0.0, 0.0)
    feed(consent, {}, 2, 1)
    with pytest.warns(UserWarning, match="max_carry_steps=0"):
        consent.process({}, rewards=np.ones((2, 1)), values=np.zeros((2, 1)),
                        starts=np.array([[True], [False]]))
    assert consent.held_back_steps == 0 and stats.dropped_unjudged_steps == 2
    RolloutConsent(no_harm, 1, gamma=1.0, gae_lambda=1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tensors_come_back_on_their_own_device():
    consent = RolloutConsent(no_harm, 1)
    feed(consent, {1: {0: record("fine", 2)}}, 2, 1)
    cuda = torch.device("cuda")
    batch = consent.process({"obs": torch.zeros((2, 1, 3), device=cuda)},
                            rewards=torch.ones((2, 1), device=cuda),
                            values=torch.zeros((2, 1), device=cuda),
                            starts=torch.tensor([[True], [False]]))
    assert {a.device.type for a in batch.arrays.values()} == {"cuda"}
