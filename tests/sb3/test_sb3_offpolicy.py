"""ConsentReplayBuffer with DQN, and SubprocVecEnv with PPO."""

from __future__ import annotations

import functools
import os
import re
import warnings

import numpy as np
import pytest
import torch as th
from sb3_testenvs import MarkedEnv, RecordingJudge, make_marked, marker_judge
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from consent_gym import ConsentRecorder, read_audit_log
from consent_gym.gate import ConsentStats
from consent_gym.judges import RuleJudge
from consent_gym.render import GenericRenderer
from consent_gym.sb3 import (
    ConsentCallback,
    ConsentDictReplayBuffer,
    ConsentReplayBuffer,
    consent_kwargs,
    make_consent_vec_env,
)
from tests.fakes import FsyncSpy, RaisingJudge


def marked_venv(n_envs: int = 2, **kwargs) -> DummyVecEnv:
    return DummyVecEnv(
        [functools.partial(make_marked, offset=7 * i, **kwargs) for i in range(n_envs)]
    )


def dqn(venv, judge, mode="block", buffer_class=None, **kwargs) -> DQN:
    gate = consent_kwargs(judge, mode=mode, algo=DQN)
    if buffer_class is not None:
        gate["replay_buffer_class"] = buffer_class
    params = dict(learning_starts=20, train_freq=4, gradient_steps=1, batch_size=16,
                  buffer_size=2000, target_update_interval=40, seed=0, device="cpu",
                  policy_kwargs={"net_arch": [16]})
    params.update(kwargs)
    return DQN("MlpPolicy" if not kwargs.get("dict") else "MultiInputPolicy", venv,
               **params, **gate)


def params_of(model) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def same(a, b) -> bool:
    return all(th.equal(x, y) for x, y in zip(a, b, strict=True))


class RecordingReplay(ConsentReplayBuffer):
    """Keeps every batch DQN samples."""

    def sample(self, batch_size, env=None):
        samples = super().sample(batch_size, env)
        self.seen = [*getattr(self, "seen", []), samples]
        return samples


def test_block_never_samples_vetoed_transitions():
    judge = RecordingJudge(marker_judge())
    model = dqn(marked_venv(), judge, buffer_class=RecordingReplay)
    model.learn(300, callback=ConsentCallback())
    buf = model.replay_buffer
    # one judge call per rollout (train_freq=4 steps) that ended an episode, never more
    assert len(judge.batches) == buf.stats.judge_calls <= 300 // (4 * 2)
    assert sum(map(len, judge.batches)) == buf.stats.judged
    assert any(len(b) > 1 for b in judge.batches)
    assert isinstance(buf, RecordingReplay) and len(buf.seen) > 20
    for s in buf.seen:
        assert (s.observations[:, 0] == 0).all() and (s.next_observations[:, 0] == 0).all()
        assert (s.rewards == 1.0).all()  # bad episodes pay 2 per step
    stored = buf.observations[: buf.size(), 0]
    assert len(stored) == buf.committed_steps > 0 and (stored[:, 0] == 0).all()
    stats = buf.stats
    assert stats.vetoed > 0 and buf.committed_steps == stats.used_steps - stats.vetoed_steps


def test_audit_log_is_fsynced_before_judged_transitions_are_committed(tmp_path, monkeypatch):
    """Durability: each flush syncs its verdicts before any of its transitions can be
    sampled (a spy on os.fsync reads how many steps were committed at the sync)."""
    path = tmp_path / "a.jsonl"
    model = DQN("MlpPolicy", marked_venv(), learning_starts=10_000, seed=0, device="cpu",
                **consent_kwargs(marker_judge(), mode="zero", audit_log=path, algo=DQN))
    spy = FsyncSpy(path, snapshot=lambda: model.replay_buffer.committed_steps)
    monkeypatch.setattr(os, "fsync", spy)
    model.learn(200, callback=ConsentCallback())
    records = list(read_audit_log(path))
    steps = [r["steps_used"] for r in records]
    assert len(spy.calls) >= 5 and spy.calls[-1][0] == len(records)
    judged_before = 0
    for judged, committed_at_sync in spy.calls:
        # only the episodes of earlier flushes were committed when this flush synced
        assert committed_at_sync == sum(steps[:judged_before])
        judged_before = judged
    assert model.replay_buffer.committed_steps == sum(steps)  # zero mode commits them all


def test_zero_and_penalty_commit_edited_terminal_transitions():
    for mode, last in [("zero", 0.0), ("penalty", -5.0)]:
        model = DQN("MlpPolicy", marked_venv(truncate=(True,)), learning_starts=10_000,
                    seed=0, device="cpu",
                    **consent_kwargs(marker_judge(), mode=mode, penalty=-5.0, algo=DQN))
        model.learn(200, callback=ConsentCallback())
        buf = model.replay_buffer
        n = buf.size()
        bad = buf.observations[:n, 0, 0] == 1.0
        rewards, dones = buf.rewards[:n, 0], buf.dones[:n, 0]
        timeouts = buf.timeouts[:n, 0]
        assert bad.any() and (~bad).any()
        assert set(rewards[~bad].tolist()) == {1.0}
        assert set(rewards[bad & (dones == 0)].tolist()) == {0.0}
        assert set(rewards[bad & (dones == 1)].tolist()) == {last}
        # truncations keep their bootstrap when approved, lose it when vetoed
        assert (timeouts[~bad & (dones == 1)] == 1).all()
        assert (timeouts[bad] == 0).all()


def test_block_veto_all_leaves_dqn_exactly_unchanged(veto_all, approve_all):
    for judge, changes in [(veto_all, False), (approve_all, True)]:
        model = dqn(marked_venv(), judge)
        before = params_of(model)
        model.learn(200, callback=ConsentCallback())
        assert same(before, model.policy.parameters()) is not changes
        if not changes:
            assert model.replay_buffer.size() == 0
            assert model.replay_buffer.stats.skipped_updates > 0
            assert type(model) is DQN


def test_dqn_without_callback_fails_clearly_when_nothing_approved(veto_all):
    model = dqn(marked_venv(), veto_all)
    with pytest.raises(RuntimeError, match="ConsentCallback"):
        model.learn(100)


def test_dict_observations_replay():
    venv = marked_venv(dict_obs=True)
    model = DQN("MultiInputPolicy", venv, learning_starts=20, train_freq=4, batch_size=16,
                buffer_size=2000, seed=0, device="cpu",
                **consent_kwargs(marker_judge(), mode="block", algo=DQN, env=venv))
    assert isinstance(model.replay_buffer, ConsentDictReplayBuffer)
    model.learn(120, callback=ConsentCallback())
    buf = model.replay_buffer
    n = buf.size()
    assert n > 0 and (buf.observations["bad"][:n] == 0).all()
    assert (buf.observations["state"][:n, 0, 0] == 0).all()
    sample = buf.sample(32)
    assert (sample.observations["bad"] == 0).all()


def _short_episodes_vetoed(text: str) -> bool:
    match = re.search(r", (\d+) steps", text)
    return match is None or int(match.group(1)) >= 12


def test_subproc_vec_env_judges_whole_episodes_without_calling_back():
    # the numeric listing names each episode's step count, which the rule judge reads
    venv = make_consent_vec_env("CartPole-v1", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                                vec_env_kwargs={"start_method": "fork"},
                                renderer=GenericRenderer())
    try:
        judge = RuleJudge(_short_episodes_vetoed, name="long-enough")
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0,
                    device="cpu", **consent_kwargs(judge, mode="block"))
        model.learn(64, callback=ConsentCallback())
        buf = model.rollout_buffer
        decisions = buf.decisions
        assert decisions and all(d.piece.finished for d in decisions)
        assert all("Still running" not in d.piece.text for d in decisions)
        assert {d.piece.env_index for d in decisions} == {0, 1}
        assert {d.piece.env_id for d in decisions} == {"CartPole-v1"}
        trained_now = sum(d.piece.steps for d in decisions if d.approved)
        assert buf.n_trainable == trained_now
        assert buf.engine.held_back_steps > 0  # the running episodes wait for their verdict
    finally:
        venv.close()


def test_make_consent_vec_env_keeps_an_inner_wrapper():
    from gymnasium.wrappers import TimeLimit

    venv = make_consent_vec_env("CartPole-v1", n_envs=1, wrapper_class=TimeLimit,
                                wrapper_kwargs={"max_episode_steps": 5})
    venv.reset()
    for _ in range(5):
        _, _, dones, infos = venv.step(np.array([0]))
    assert dones[0] and infos[0]["consent"]["length"] == 5 and infos[0]["consent"]["pending"]


# --- ConsentReplayBuffer driven by hand, as SB3's off-policy loop drives it -------------


def drive(buf: ConsentReplayBuffer, venv: DummyVecEnv, steps: int, seed: int = 0) -> list:
    """Step ``venv`` and ``buf.add`` each step as SB3's ``_store_transition`` does (the
    terminal observation as next_obs); returns every ended episode as the env produced it:
    ``(env index, episode index, transitions)``, in the order they ended."""
    rng = np.random.default_rng(seed)
    obs = venv.reset()
    running: list[list] = [[] for _ in range(venv.num_envs)]
    counts = [0] * venv.num_envs
    ended = []
    for _ in range(steps):
        actions = rng.integers(0, 2, size=venv.num_envs)
        new_obs, rewards, dones, infos = venv.step(actions)
        next_obs = new_obs.copy()
        for e in range(venv.num_envs):
            if dones[e]:
                next_obs[e] = infos[e]["terminal_observation"]
            running[e].append((obs[e].copy(), next_obs[e].copy(), int(actions[e]),
                               float(rewards[e]), bool(dones[e]),
                               bool(infos[e]["TimeLimit.truncated"])))
        buf.add(obs, next_obs, actions, rewards, dones, infos)
        for e in range(venv.num_envs):
            if dones[e]:
                ended.append((e, counts[e], running[e]))
                running[e], counts[e] = [], counts[e] + 1
        obs = new_obs
    return ended


def plain_buffer(transitions, space, action_space) -> ReplayBuffer:
    """SB3's own ReplayBuffer holding ``transitions`` (the reference storage)."""
    ref = ReplayBuffer(1000, space, action_space, device="cpu", n_envs=1)
    for o, no, a, r, d, timeout in transitions:
        ref.add(o[None], no[None], np.array([a]), np.array([r]), np.array([d]),
                [{"TimeLimit.truncated": timeout}])
    return ref


@pytest.mark.parametrize("mode", ["zero", "penalty", "block"])
def test_replay_audit_lines_and_storage_match_what_each_env_did(tmp_path, mode):
    """Every audit line, field by field, and every stored transition against the episodes
    the envs produced, stored by SB3's own ReplayBuffer (approved ones as they happened,
    vetoed ones with rewards 0 and ``penalty`` at the end, terminal, no bootstrap)."""
    venv = marked_venv()
    space, action_space = venv.observation_space, venv.action_space
    buf = ConsentReplayBuffer(1000, space, action_space, device="cpu", n_envs=2,
                              judge=marker_judge(), mode=mode, penalty=-5.0,
                              audit_log=tmp_path / "a.jsonl")
    ended = drive(buf, venv, 40)
    assert buf.committed_steps == 0 and buf.pending_episodes == len(ended) > 6
    buf.flush()
    lines = list(read_audit_log(tmp_path / "a.jsonl"))
    assert len(lines) == len(ended)
    expected = []
    for line, (e, index, transitions) in zip(lines, ended, strict=True):
        bad = transitions[0][0][0] == 1.0
        episode_return = sum(t[3] for t in transitions)
        released = episode_return if not bad else (-5.0 if mode == "penalty" else 0.0)
        want = {"env_id": "MarkedEnv", "episode_index": index, "env_index": e,
                "approved": not bad, "outcome": "vetoed" if bad else "approved",
                "learner": f"sb3-replay:{mode}", "mode": mode, "fragment_start": 0,
                "steps_used": len(transitions), "episode_finished": True,
                "reward_released": released}
        assert {k: line[k] for k in want} == want
        if not bad:
            expected += transitions
        elif mode != "block":
            last = len(transitions) - 1
            expected += [(o, no, a, -5.0 if mode == "penalty" and i == last else 0.0,
                          d, False) for i, (o, no, a, _, d, _) in enumerate(transitions)]
    assert any(t[5] for t in expected) or mode == "block"  # an approved truncation is kept
    ref = plain_buffer(expected, space, action_space)
    n = buf.size()
    assert n == ref.size() == buf.committed_steps == len(expected)
    for name in ["observations", "next_observations", "actions", "rewards", "dones",
                 "timeouts"]:
        np.testing.assert_array_equal(getattr(buf, name)[:n], getattr(ref, name)[:n], name)
    assert buf.stats.judged == len(ended) and buf.stats.dropped_unjudged_steps == 0


def test_replay_add_takes_what_sb3s_buffer_takes_for_one_env():
    """Scalar action, reward and done for one env (as SB3's own ReplayBuffer takes them),
    infos without a truncation key, the constructor's defaults."""
    env = make_marked(lengths=(3,), bad=(False,))
    space, action_space = env.observation_space, env.action_space
    buf = ConsentReplayBuffer(100, space, action_space, judge=marker_judge())
    assert (buf.source_n_envs, buf.gamma, buf.n_steps, buf.device) == (1, 0.99, 1,
                                                                       get_device("auto"))
    assert buf.handle_timeout_termination and not buf.optimize_memory_usage
    obs, _ = env.reset(seed=0)
    transitions = []
    for _ in range(3):
        next_obs, reward, terminated, truncated, info = env.step(1)
        done = terminated or truncated
        infos = [{"consent": info["consent"]}] if done else [{}]
        # observations batched (one row), the rest as scalars
        buf.add(obs[None], next_obs[None], np.int64(1), np.float32(reward), np.bool_(done),
                infos)
        transitions.append((obs, next_obs, 1, reward, done, False))
        obs = next_obs
    buf.flush()
    ref = plain_buffer(transitions, space, action_space)
    for name in ["observations", "next_observations", "actions", "rewards", "dones",
                 "timeouts"]:
        np.testing.assert_array_equal(getattr(buf, name)[:3], getattr(ref, name)[:3], name)


def test_replay_drops_and_counts_the_steps_of_episodes_reset_before_they_ended(tmp_path):
    """learn(reset_num_timesteps=True) resets the envs mid-episode: those steps were never
    judged, so they are dropped and counted, and the next episode is committed alone."""
    venv = marked_venv(1, lengths=(6,), bad=(False,), truncate=(False,))
    buf = ConsentReplayBuffer(1000, venv.observation_space, venv.action_space,
                              device="cpu", judge=marker_judge(),
                              audit_log=tmp_path / "a.jsonl")
    drive(buf, venv, 3)  # 3 steps of episode 0, then a reset
    ended = drive(buf, venv, 8)  # 2 abandoned steps of episode 2 after episode 1 ends
    drive(buf, venv, 6)  # episode 3 (the recorder counted the abandoned ones)
    assert buf.stats.dropped_unjudged_steps == 3 + 2
    buf.flush()
    lines = list(read_audit_log(tmp_path / "a.jsonl"))
    assert [(r["episode_index"], r["steps_used"], r["fragment_start"]) for r in lines] == [
        (1, 6, 0), (3, 6, 0)]
    stored = buf.observations[: buf.size(), 0, 1]  # the step within the episode
    assert stored.tolist() == [0, 1, 2, 3, 4, 5] * 2
    assert len(ended) == 1


def test_replay_minimal_record_names_what_is_unknown(tmp_path):
    """A record with only text and pending (another recorder): env_id '', index -1."""
    env = make_marked(lengths=(2,), bad=(False,))
    buf = ConsentReplayBuffer(100, env.observation_space, env.action_space, device="cpu",
                              judge=marker_judge(), audit_log=tmp_path / "a.jsonl")
    obs = np.zeros((1, 3), dtype=np.float32)
    for done in (False, True):
        infos = [{"consent": {"text": "fine", "pending": True}} if done else {}]
        buf.add(obs, obs, np.array([0]), np.array([1.0]), np.array([done]), infos)
    buf.flush()
    (line,) = read_audit_log(tmp_path / "a.jsonl")
    assert (line["env_id"], line["episode_index"], line["fragment_start"],
            line["steps_used"], line["reward_released"]) == ("", -1, 0, 2, 0.0)
    assert buf.size() == 2


def test_replay_buffer_attached_mid_episode_says_from_which_step_it_holds_it(tmp_path):
    """The env ran 3 steps before this buffer saw it: the whole 6-step episode is judged,
    the buffer holds (and logs) its steps 3-5."""
    venv = marked_venv(1, lengths=(6,), bad=(False,), truncate=(False,))
    buf = ConsentReplayBuffer(100, venv.observation_space, venv.action_space,
                              device="cpu", judge=marker_judge(),
                              audit_log=tmp_path / "a.jsonl")
    venv.reset()
    venv.step(np.array([0]))
    venv.step(np.array([0]))
    obs = venv.step(np.array([0]))[0]
    for _ in range(3):
        new_obs, rewards, dones, infos = venv.step(np.array([0]))
        buf.add(obs, new_obs, np.array([0]), rewards, dones, infos)
        obs = new_obs
    buf.flush()
    (line,) = read_audit_log(tmp_path / "a.jsonl")
    assert (line["fragment_start"], line["steps_used"], line["episode_finished"]) == (
        3, 3, True)
    assert buf.observations[:3, 0, 1].tolist() == [3, 4, 5]


def test_replay_names_the_sub_env_that_ended_without_a_record():
    venv = marked_venv(2)
    buf = ConsentReplayBuffer(100, venv.observation_space, venv.action_space, n_envs=2,
                              device="cpu", judge=marker_judge())
    obs = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"sub-env 1 ended an episode without"):
        buf.add(obs, obs, np.array([0, 0]), np.array([1.0, 1.0]), np.array([False, True]),
                [{}, {}])


def test_replay_warns_once_and_at_the_caller_when_an_episode_outruns_the_buffer():
    venv = marked_venv(2, lengths=(30,))
    buf = ConsentReplayBuffer(8, venv.observation_space, venv.action_space, n_envs=2,
                              device="cpu", judge=marker_judge())
    obs = np.zeros((2, 3), dtype=np.float32)
    args = (obs, obs, np.array([0, 0]), np.array([1.0, 1.0]), np.array([False, False]),
            [{}, {}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(8):
            buf.add(*args)
        assert caught == []  # 8 staged steps fit a buffer of 8
        for _ in range(5):
            buf.add(*args)
    assert len(caught) == 1
    assert str(caught[0].message).startswith("sub-env 0 has run 9 steps without ending")
    assert caught[0].filename == __file__


def test_replay_buffer_passes_its_arguments_on():
    """The device, timeout handling, settings and stats given reach SB3 and the decision
    step (a failing judge under on_judge_error='raise' raises; info_key is read)."""
    env = make_marked(lengths=(2,), truncate=(True,), bad=(False,))
    space, action_space = env.observation_space, env.action_space
    assert ConsentReplayBuffer(10, space, action_space, device="meta",
                               judge=marker_judge()).device == th.device("meta")
    stats = ConsentStats()
    buf = ConsentReplayBuffer(10, space, action_space, device="cpu", judge=marker_judge(),
                              handle_timeout_termination=False, stats=stats)
    assert buf.stats is stats and not buf.handle_timeout_termination
    venv = DummyVecEnv([lambda: make_marked(lengths=(2,), truncate=(True,), bad=(False,))])
    drive(buf, venv, 2)
    buf.flush()
    assert stats.judged == 1 and buf.size() == 2 and not buf.timeouts[:2].any()

    venv = DummyVecEnv([lambda: ConsentRecorder(MarkedEnv(lengths=(2,)), info_key="c2")])
    buf = ConsentReplayBuffer(10, space, action_space, device="cpu", info_key="c2",
                              judge=RaisingJudge(), on_judge_error="raise")
    drive(buf, venv, 2)
    with pytest.raises(RuntimeError, match="out of memory"):
        buf.flush()


def test_replay_buffer_refusals_name_the_fix():
    env = make_marked()
    space, action_space = env.observation_space, env.action_space
    with pytest.raises(TypeError, match="needs a judge"):
        ConsentReplayBuffer(100, space, action_space)
    for n_steps in (0, 2.0):
        with pytest.raises(ValueError, match="n_steps must be an int >= 1"):
            ConsentReplayBuffer(100, space, action_space, judge=marker_judge(),
                                n_steps=n_steps)
    dict_space = make_marked(dict_obs=True).observation_space
    with pytest.raises(ValueError, match="not supported for Dict observation spaces"):
        ConsentReplayBuffer(100, dict_space, action_space, judge=marker_judge(), n_steps=2)
    with pytest.raises(ValueError, match="does not support optimize_memory_usage"):
        ConsentReplayBuffer(100, space, action_space, judge=marker_judge(),
                            optimize_memory_usage=True)
    buf = ConsentReplayBuffer(100, space, action_space, judge=marker_judge(), n_envs=2)
    with pytest.raises(ValueError, match="env has 1 sub-envs, the buffer 2"):
        buf.attach_env(marked_venv(1))
    with pytest.raises(RuntimeError, match="holds no approved transition yet"):
        buf.sample(4)


@pytest.mark.parametrize("n_steps", [1, 2])
def test_replay_samples_are_normalised_by_the_vecnormalize_given(n_steps):
    """sample(env=VecNormalize) normalises observations and rewards, as SB3's does."""
    venv = marked_venv(1, lengths=(1,), bad=(False,), truncate=(False,))
    buf = ConsentReplayBuffer(100, venv.observation_space, venv.action_space,
                              device="cpu", judge=marker_judge(), n_steps=n_steps)
    drive(buf, venv, 1)  # one 1-step episode: reward 1, obs (0, 0, 0), next (0, 1, 0)
    norm = VecNormalize(marked_venv(1), norm_obs=True, norm_reward=True)
    norm.obs_rms.mean[:] = 1.0
    norm.ret_rms.var = np.array(4.0)
    sample = buf.sample(3, env=norm)
    assert sample.rewards.numpy().ravel().tolist() == pytest.approx([0.5] * 3, rel=1e-3)
    want = norm.normalize_obs(buf.next_observations[0])
    np.testing.assert_allclose(sample.next_observations.numpy(), np.repeat(want, 3, 0),
                               rtol=1e-5)


def test_callback_logs_each_judge_call_once_with_its_values(capsys):
    """The consent/... values against the counts they come from, and the verbose line."""
    venv = marked_venv(1, lengths=(30,))
    stats = ConsentStats(judged=10, vetoed=4, failed=1, flagged=2, judge_calls=3,
                         last_judged=5, last_vetoed=2, last_latency_s=0.5, last_steps=40,
                         last_vetoed_steps=10, cache_start=(1.0, 2.0), cache_now=(4.0, 6.0))
    buf = ConsentReplayBuffer(100, venv.observation_space, venv.action_space, device="cpu",
                              judge=marker_judge(), stats=stats)
    drive(buf, venv, 3)  # three staged steps of a running episode
    model = DQN("MlpPolicy", venv, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    callback = ConsentCallback(verbose=1)
    callback.init_callback(model)
    callback.buffer = buf
    callback.on_rollout_end()
    assert model.logger.name_to_value == {
        "consent/committed_transitions": 0, "consent/staged_transitions": 3,
        "consent/judged_episodes": 10, "consent/veto_rate": 0.4,
        "consent/judge_latency_s": 0.5, "consent/judge_latency_ms_per_episode": 100.0,
        "consent/vetoed_step_fraction": 0.25, "consent/veto_rate_total": 0.4,
        "consent/failures": 1, "consent/flagged": 2, "consent/cache_hit_rate": 0.75,
    }
    assert capsys.readouterr().out == (
        "consent: judged 5, vetoed 2 in 0.500s (total 10, veto rate 0.40, failures 1, "
        "flagged 2)\n")
    model.logger.name_to_value.clear()
    callback.on_rollout_end()  # no new judge call: only the buffer's counts
    assert set(model.logger.name_to_value) == {"consent/committed_transitions",
                                               "consent/staged_transitions"}
    stats.judge_calls, stats.last_judged, stats.last_steps = 4, 0, 0
    stats.cache_now = None
    callback.on_rollout_end()  # a call that judged nothing: no per-call rates
    assert set(model.logger.name_to_value) == {
        "consent/committed_transitions", "consent/staged_transitions",
        "consent/judged_episodes", "consent/veto_rate_total", "consent/failures",
        "consent/flagged"}


def test_callback_logs_nothing_before_the_first_judge_call_and_logs_the_first():
    venv = marked_venv(1, lengths=(30,))
    stats = ConsentStats()
    buf = ConsentReplayBuffer(100, venv.observation_space, venv.action_space, device="cpu",
                              judge=marker_judge(), stats=stats)
    model = DQN("MlpPolicy", venv, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    callback = ConsentCallback()
    callback.init_callback(model)
    callback.buffer = buf
    callback.on_rollout_end()  # nothing judged yet: only the buffer's counts
    assert set(model.logger.name_to_value) == {"consent/committed_transitions",
                                               "consent/staged_transitions"}
    stats.judge_calls, stats.judged, stats.last_judged = 1, 2, 2
    callback.on_rollout_end()  # the first judge call is logged
    assert model.logger.name_to_value["consent/judged_episodes"] == 2
