"""ConsentWrapper: exact reward accounting, pass-through mode, vector envs, bad input."""

from __future__ import annotations

import ast
import functools
import math
import os

import gymnasium as gym
import minigrid  # noqa: F401  (registers MiniGrid-* ids)
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from consent_gym import AuditLog, ConsentRecorder, ConsentWrapper, read_audit_log
from consent_gym.judges import JudgeError, RuleJudge, Verdict
from tests.fakes import (
    MALFORMED_VERDICTS,
    CountingEnv,
    DictObsEnv,
    FixedVerdictJudge,
    FsyncSpy,
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
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all, reward_timing="deferred")
    rewards, info = run_episode(env, seed=seed, action=1)
    assert rewards[:-1] == [0.0] * (len(rewards) - 1)
    assert rewards[-1] == pytest.approx(sum(raw_rewards), abs=0)
    assert info["consent"]["episode_return"] == sum(raw_rewards)
    assert info["consent"]["reward_released"] == sum(raw_rewards)
    assert info["consent"]["outcome"] == "approved"


def test_vetoed_episode_releases_zero():
    env = ConsentWrapper(CountingEnv(length=4, harm_at=2), judge=no_harm,
                         reward_timing="deferred")
    rewards, info = run_episode(env)
    assert rewards == [0.0, 0.0, 0.0, 0.0]
    assert info["consent"]["approved"] is False
    assert info["consent"]["episode_return"] == 4.0
    assert info["consent"]["reward_released"] == 0.0


def test_penalty_mode_releases_penalty_on_veto_and_return_on_approval():
    vetoed = ConsentWrapper(CountingEnv(length=3, harm_at=1), judge=no_harm, mode="penalty",
                            penalty=-50.0, reward_timing="deferred")
    rewards, _ = run_episode(vetoed)
    assert rewards == [0.0, 0.0, -50.0]
    approved = ConsentWrapper(CountingEnv(length=3), judge=no_harm, mode="penalty",
                              reward_timing="deferred")
    rewards, _ = run_episode(approved)
    assert rewards == [0.0, 0.0, 3.0]


def test_passthrough_mode_keeps_rewards_and_marks_pending():
    env = ConsentRecorder(CountingEnv(length=3, reward=2.0))
    rewards, info = run_episode(env)
    assert rewards == [2.0, 2.0, 2.0]
    assert info["consent"]["pending"] is True
    assert "The episode lasted 3 steps." in info["consent"]["text"]
    assert "approved" not in info["consent"]


def test_render_episode_renders_running_fragment():
    env = ConsentRecorder(CountingEnv(length=10))
    env.reset(seed=0)
    for _ in range(4):
        env.step(0)
    whole = env.render_episode()
    assert "4 steps" in whole and "shown from" not in whole  # by default: from step 0
    assert whole == env.renderer.render(env.trajectory)
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
    assert {(r["env_id"], r["learner"], r["steps_used"]) for r in records} == {
        ("CountingEnv", "wrapper", 2)}


def test_audit_log_is_fsynced_before_step_returns_the_released_reward(tmp_path, monkeypatch):
    """Durability: the verdict is on disk (fsync) before the learner holds the reward.

    The SIGKILL test in test_reliability.py cannot see a missing fsync (written pages
    survive the death of a process), so the order is checked here with a spy on os.fsync.
    """
    path = tmp_path / "audit.jsonl"
    spy = FsyncSpy(path)
    monkeypatch.setattr(os, "fsync", spy)
    env = ConsentWrapper(CountingEnv(length=3, reward=2.0), judge=RecordingJudge(),
                         audit_log=path, reward_timing="deferred")
    for episode in range(3):
        env.reset(seed=episode)
        for t in range(3):
            before = len(spy.calls)
            _, reward, *_ = env.step(0)
            if t < 2:  # nothing judged, nothing released, nothing to sync
                assert (reward, len(spy.calls)) == (0.0, before)
        # the episode's last step: its record was written and synced inside step()
        assert reward == 6.0
        assert [records for records, _ in spy.calls[before:]] == [episode + 1]
    env.close()


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
    env = ConsentWrapper(CountingEnv(length=2), judge=judge, reward_timing="deferred")
    rewards, info = run_episode(env)
    assert rewards == [0.0, 0.0]
    assert info["consent"]["outcome"] == "failed"
    assert info["consent"]["approved"] is False
    assert "judge error" in info["consent"]["reason"]


@pytest.mark.parametrize("name", sorted(MALFORMED_VERDICTS))
@pytest.mark.parametrize(("on_veto", "vetoed_reward"), [("zero", 0.0), ("penalty", -7.0)])
def test_malformed_verdicts_release_nothing_end_to_end(name, on_veto, vetoed_reward, tmp_path):
    """A judge's malformed verdict (approved and failed, "no" as approved, ...) releases the
    vetoed reward, never the episode's return of 3 x 2.0, and is logged as a failure."""
    path = tmp_path / "audit.jsonl"
    env = ConsentWrapper(CountingEnv(length=3, reward=2.0),
                         judge=FixedVerdictJudge(MALFORMED_VERDICTS[name]),
                         mode=on_veto, penalty=-7.0, audit_log=path, reward_timing="deferred")
    rewards, info = run_episode(env)
    env.close()
    assert rewards == [0.0, 0.0, vetoed_reward]
    record = info["consent"]
    assert (record["outcome"], record["approved"]) == ("failed", False)
    assert record["reward_released"] == vetoed_reward and record["episode_return"] == 6.0
    assert record["reason"].startswith("judge error: a verdict")
    (logged,) = read_audit_log(path)
    assert (logged["outcome"], logged["approved"], logged["failed"]) == ("failed", False, True)
    assert logged["reward_released"] == vetoed_reward


def test_failing_judge_raises_when_asked():
    env = ConsentWrapper(CountingEnv(length=2), judge=WrongCountJudge(), on_judge_error="raise")
    with pytest.raises(JudgeError, match="returned 2 verdicts for 1 texts"):
        run_episode(env)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "explode"}, ValueError, "mode='explode' is not supported"),
        ({"mode": "block"}, ValueError, "consent_gym.sb3"),
        ({"reward_timing": "later"}, ValueError, "reward_timing='later'"),
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


def test_recorder_takes_no_judge(approve_all):
    with pytest.raises(TypeError, match="judge"):
        ConsentRecorder(CountingEnv(), judge=approve_all)  # type: ignore[call-arg]


def test_nan_reward_raises(approve_all):
    env = ConsentWrapper(NaNRewardEnv(length=4), judge=approve_all)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(ValueError, match="finite rewards"):
        env.step(0)


def test_step_before_reset_raises(approve_all):
    env = ConsentWrapper(CountingEnv(), judge=approve_all)
    with pytest.raises(gym.error.ResetNeeded, match="call reset"):
        env.step(0)


class FactsRenderer:
    """Renders what a judge could act on: who, which episode, how it ended, what it saw."""

    def render(self, trajectory) -> str:
        last = trajectory.steps[-1]
        return repr((trajectory.env_id, trajectory.episode_index, trajectory.actor,
                     last.terminated, last.truncated,
                     [step.observation.tolist() for step in trajectory.steps]))


@pytest.mark.parametrize(("max_steps", "ending"), [(10, (True, False)), (3, (False, True))])
def test_the_judged_trajectory_carries_its_ending_observations_and_actor(max_steps, ending):
    judge = RecordingJudge()
    inner = gym.wrappers.TimeLimit(CountingEnv(length=3 if ending[0] else 10, tag=7), max_steps)
    env = ConsentWrapper(inner, judge=judge, renderer=FactsRenderer(), actor="Naive_Explorer")
    env.reset(seed=0)
    env.step(0)  # an unfinished episode, dropped: it still takes index 0
    env.reset(seed=0)
    env.step(0)
    run_episode(env, action=0)  # and a second one: the judged episode is number 2
    (text,) = judge.texts
    assert ast.literal_eval(text) == (
        "CountingEnv", 2, "Naive_Explorer", *ending, [[7.0, 0.0], [7.0, 1.0], [7.0, 2.0]]
    )
    assert env.last_verdict == Verdict(True, 1.0, "recording")


def test_close_closes_only_a_log_it_opened(tmp_path, approve_all):
    env = ConsentWrapper(CountingEnv(), judge=approve_all, audit_log=tmp_path / "own.jsonl")
    own = env.audit_log
    env.close()
    with pytest.raises(ValueError, match="closed"):
        own.write({})
    shared = AuditLog(tmp_path / "shared.jsonl")
    ConsentWrapper(CountingEnv(), judge=approve_all, audit_log=shared).close()
    shared.write({"still": "open"})
    shared.close()


def test_a_renderer_without_render_is_rejected(approve_all):
    with pytest.raises(TypeError, match="render"):
        ConsentWrapper(CountingEnv(), judge=approve_all, renderer=object())  # type: ignore[arg-type]


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


def test_spec_records_judge_without_copying_it(approve_all, tmp_path):
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all)
    wrapper_spec = env.spec.additional_wrappers[-1]
    assert wrapper_spec.name == "ConsentWrapper"
    assert wrapper_spec.kwargs["judge"] is approve_all
    renderer = FactsRenderer()
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all, mode="penalty",
                         renderer=renderer, penalty=-3.0, audit_log=str(tmp_path / "a"),
                         on_judge_error="raise", info_key="gate", actor="me",
                         reward_timing="deferred")
    assert env.spec.additional_wrappers[-1].kwargs == {
        "judge": approve_all, "mode": "penalty", "renderer": renderer, "penalty": -3.0,
        "reward_timing": "deferred", "audit_log": str(tmp_path / "a"),
        "on_judge_error": "raise", "info_key": "gate", "actor": "me",
    }
    assert env.spec.additional_wrappers[-1].kwargs["judge"] is approve_all  # not copied
    env.close()


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


# --------------------------------------------------------------- reward timing: as earned
@pytest.mark.parametrize("seed", range(3))
def test_as_earned_approved_episode_pays_exactly_the_env_rewards(seed, approve_all):
    raw_rewards, _ = run_episode(gym.make("CartPole-v1"), seed=seed, action=1)
    env = ConsentWrapper(gym.make("CartPole-v1"), judge=approve_all)  # the default timing
    rewards, info = run_episode(env, seed=seed, action=1)
    assert rewards == raw_rewards  # step for step: approved episodes teach as ungated
    assert info["consent"]["reward_released"] == sum(raw_rewards)


@pytest.mark.parametrize(("mode", "released"), [("zero", 0.0), ("penalty", -50.0)])
@pytest.mark.parametrize("reward", [1.0, 0.25, -2.0])
def test_as_earned_vetoed_episode_sums_exactly_to_zero_or_the_penalty(mode, released, reward):
    env = ConsentWrapper(CountingEnv(length=6, reward=reward, harm_at=3), judge=no_harm,
                         mode=mode, penalty=-50.0)
    rewards, info = run_episode(env)
    assert rewards[:-1] == [reward] * 5  # paid as earned: the verdict comes at the end
    assert rewards[-1] == released - 5 * reward  # the compensating last reward
    assert sum(rewards) == released and info["consent"]["reward_released"] == released
    assert info["consent"]["outcome"] == "vetoed"


def test_as_earned_failed_judge_neutralises_the_episode():
    env = ConsentWrapper(CountingEnv(length=3, reward=2.0), judge=RaisingJudge())
    rewards, info = run_episode(env)
    assert rewards == [2.0, 2.0, -4.0] and info["consent"]["outcome"] == "failed"


def test_recorder_records_and_renders_without_judging():
    env = ConsentRecorder(CountingEnv(length=3, harm_at=2))
    rewards, info = run_episode(env)
    record = info["consent"]
    assert rewards == [1.0, 1.0, 1.0]
    assert record["pending"] is True and "approved" not in record
    assert record["env_id"] == "CountingEnv" and record["length"] == 3
    assert record["episode_return"] == 3.0 and "hit pedestrian" in record["text"]


def test_wrapper_counts_what_it_decided_in_consent_stats():
    env = ConsentWrapper(CountingEnv(length=2, harm_at=1), judge=no_harm)
    for seed in range(3):
        run_episode(env, seed=seed)
    stats = env.stats
    assert (stats.judged, stats.vetoed, stats.judge_calls, stats.used_steps) == (3, 3, 3, 6)
    assert stats.veto_rate == 1.0 and stats.judge_seconds >= 0.0


def test_without_a_judge_the_default_judge_is_loaded_at_the_first_episode_end(monkeypatch):
    import consent_gym.judges

    loaded = []

    def fake_default_judge():
        loaded.append(True)
        return RuleJudge(lambda text: True, name="stand-in")

    monkeypatch.setattr(consent_gym.judges, "default_judge", fake_default_judge)
    env = ConsentWrapper(CountingEnv(length=2))
    env.reset(seed=0)
    env.step(0)
    assert loaded == [] and env.last_verdict is None  # nothing judged, nothing loaded yet
    info = env.step(0)[4]
    assert loaded == [True] and info["consent"]["judge_id"] == "rule:stand-in"
    assert env.last_verdict is not None and env.last_verdict.judge_id == "rule:stand-in"


def test_last_step_reward_of_an_approved_empty_episode_is_zero():
    from consent_gym.gate import Decision, Piece
    from consent_gym.trajectory import Trajectory
    from consent_gym.wrapper import last_step_reward

    empty = Trajectory("Demo-v0", steps=[])
    approved = Decision(Piece("", 0.0), Verdict(True, 1.0, "j"), released=0.0)
    assert last_step_reward(approved, empty, "as_earned") == 0.0  # no step earned anything


def test_the_info_record_of_a_judged_episode_is_the_verdict_field_by_field():
    """info["consent"] carries what the judge said, as the judge says it on the same text."""
    from consent_gym.judges import JudgePanel

    yes = RuleJudge(lambda text: True, name="yes")
    panel = JudgePanel([no_harm, yes], policy="unanimous")
    env = ConsentWrapper(CountingEnv(length=3, harm_at=2), judge=panel, mode="penalty",
                         penalty=-7.0, reward_timing="deferred")
    rewards, info = run_episode(env)
    record = info["consent"]
    text = record.pop("text")
    verdict = panel.judge_batch([text])[0]  # the same judge, asked again
    assert not verdict.approved and verdict.flagged  # the members disagree
    assert record == {
        "env_id": "CountingEnv", "episode_index": 0, "length": 3,
        "episode_return": 3.0,  # what the env paid, before the veto
        "text_sha256": record["text_sha256"], "pending": False,
        "approved": False, "outcome": "vetoed", "p_acceptable": verdict.p_acceptable,
        "judge_id": verdict.judge_id, "reason": verdict.reason, "flagged": True,
        "reward_released": -7.0,
        "members": [no_harm.judge_batch([text])[0].to_dict(), yes.judge_batch([text])[0].to_dict()],
    }
    assert rewards == [0.0, 0.0, -7.0]
