"""ConsentRolloutBuffer with PPO/A2C: exact veto semantics, checked against references."""

from __future__ import annotations

import csv
import functools
import itertools
import json
import os

import numpy as np
import pytest
import torch as th
from sb3_testenvs import MARKER, MarkedEnv, RecordingJudge, make_marked, marker_judge
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import DummyVecEnv

from consent_gym import ConsentWrapper, read_audit_log
from consent_gym.gate import ConsentSettings, ConsentStats
from consent_gym.judges import RuleJudge
from consent_gym.judges.panel import JudgePanel
from consent_gym.sb3 import (
    ConsentCallback,
    ConsentDictRolloutBuffer,
    ConsentRolloutBuffer,
    consent_kwargs,
)
from consent_gym.sb3.callback import gated_class, nothing_to_learn
from tests.fakes import FsyncSpy

GAMMA, LAM = 0.9, 0.8


def marked_venv(n_envs: int = 2, **kwargs) -> DummyVecEnv:
    return DummyVecEnv(
        [functools.partial(make_marked, offset=500 * i, **kwargs) for i in range(n_envs)]
    )


def ppo(venv, judge, mode="block", n_steps=16, **kwargs) -> PPO:
    params = dict(n_steps=n_steps, batch_size=8, n_epochs=2, gamma=GAMMA, gae_lambda=LAM,
                  seed=0, device="cpu", policy_kwargs={"net_arch": [16]})
    params.update(kwargs)
    return PPO("MlpPolicy", venv, **params, **consent_kwargs(judge, mode=mode))


def params_of(model) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def same(a: list[th.Tensor], b) -> bool:
    return all(th.equal(x, y) for x, y in zip(a, b, strict=True))


class Snapshot(BaseCallback):
    """Copies each rollout as collected and the batch the update gets (at on_rollout_end)."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[dict[str, np.ndarray]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buf = self.model.rollout_buffer
        batch = buf.batch.arrays
        self.rollouts.append({
            "raw": buf.raw_rewards.copy(), "starts": None, "trainable": buf.trainable.copy(),
            "dones": np.asarray(self.locals["dones"], dtype=bool).copy(),
            "batch_obs": np.array(batch["observations"]), "batch_rewards": batch["rewards"].copy(),
            "batch_values": batch["values"].copy(), "batch_adv": batch["advantages"].copy(),
            "batch_returns": batch["returns"].copy(),
        })


class Collected(BaseCallback):
    """Every step as SB3 collects it: (obs acted from, raw reward incl. bootstrap, done)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[list[tuple[tuple[float, ...], float, bool]]] = []
        self._rollout: list[tuple[np.ndarray, np.ndarray]] = []

    def _on_training_start(self) -> None:
        self.steps = [[] for _ in range(self.training_env.num_envs)]

    def _on_step(self) -> bool:
        obs = np.array(self.model._last_obs)  # the obs each action was taken from
        self._rollout.append((obs, np.asarray(self.locals["dones"], dtype=bool).copy()))
        return True

    def _on_rollout_end(self) -> None:
        raw = self.model.rollout_buffer.raw_rewards  # SB3's truncation bootstrap included
        for t, (obs, dones) in enumerate(self._rollout):
            for e in range(len(dones)):
                self.steps[e].append((tuple(obs[e].tolist()), float(raw[t, e]), bool(dones[e])))
        self._rollout = []


def reference_batches(collected, rollout_len: int, mode: str, penalty: float, gamma, lam):
    """What each update may use, written out independently of consent-gym: per rollout,
    the steps of every episode that ended in it (also its steps from earlier rollouts),
    rewards edited for bad episodes (obs[0] == 1), GAE with the episode's end terminal."""
    per_rollout: list[dict[tuple[float, float], tuple[float, bool]]] = []
    n_rollouts = len(collected[0]) // rollout_len
    per_rollout = [{} for _ in range(n_rollouts)]
    for steps in collected:
        episode: list[tuple[tuple[float, ...], float]] = []
        for i, (obs, reward, done) in enumerate(steps):
            episode.append((obs, reward))
            if not done:
                continue
            bad = episode[0][0][0] == 1.0
            if not (bad and mode == "block"):
                rewards = [r for _, r in episode]
                if bad:
                    rewards = [0.0] * len(rewards)
                    if mode == "penalty":
                        rewards[-1] = penalty
                for (o, _), r in zip(episode, rewards, strict=True):
                    per_rollout[i // rollout_len][(o[2], o[1])] = (r, bad)
            episode = []
    return per_rollout


@pytest.mark.parametrize("mode", ["zero", "penalty", "block"])
def test_each_update_gets_exactly_the_finished_episodes_with_vetoes_applied(mode):
    snap_cb, collected = Snapshot(), Collected()
    model = ppo(marked_venv(), marker_judge(), mode=mode)
    model.learn(96, callback=[ConsentCallback(), collected, snap_cb])
    assert len(snap_cb.rollouts) == 3
    expected = reference_batches(collected.steps, 16, mode, -100.0, GAMMA, LAM)
    saw_carried = False
    for snap, want in zip(snap_cb.rollouts, expected, strict=True):
        keys = [(o[2], o[1]) for o in snap["batch_obs"].tolist()]
        assert sorted(keys) == sorted(want)  # nothing of a running episode, nothing else
        got = dict(zip(keys, snap["batch_rewards"].tolist(), strict=True))
        for key, (reward, _) in want.items():
            assert got[key] == pytest.approx(reward, abs=1e-5)
        if mode == "block":
            assert not any(bad for _, bad in want.values())
        saw_carried |= len(keys) > int(snap["trainable"].sum())  # steps of earlier rollouts
        # GAE over each episode, its last step terminal: returns = advantages + values
        np.testing.assert_allclose(snap["batch_returns"],
                                   snap["batch_adv"] + snap["batch_values"], rtol=1e-5)
    assert saw_carried


def test_advantages_are_gae_over_whole_episodes():
    snap_cb = Snapshot()
    model = ppo(marked_venv(), marker_judge(), mode="zero")
    model.learn(64, callback=[ConsentCallback(), snap_cb])
    for snap in snap_cb.rollouts:
        obs, rewards, values = snap["batch_obs"], snap["batch_rewards"], snap["batch_values"]
        adv = np.zeros(len(rewards))
        # episodes are contiguous in the batch, in time order; obs[:, 1] counts from 0
        for i in range(len(rewards) - 1, -1, -1):
            last = i == len(rewards) - 1 or obs[i + 1, 1] == 0.0
            next_value = 0.0 if last else values[i + 1]
            adv[i] = rewards[i] + GAMMA * next_value - values[i]
            if not last:
                adv[i] += GAMMA * LAM * adv[i + 1]
        np.testing.assert_allclose(snap["batch_adv"], adv, rtol=1e-4, atol=1e-5)


def test_truncation_bootstrap_removed_only_for_vetoed_episodes():
    snap_cb, collected = Snapshot(), Collected()
    # every episode truncated: SB3 adds gamma * V(terminal_obs) to each last reward
    model = ppo(marked_venv(truncate=(True,)), marker_judge(), mode="zero")
    model.learn(32, callback=[ConsentCallback(), collected, snap_cb])
    last_steps = {(o[2], o[1]): r for steps in collected.steps for o, r, d in steps if d}
    vetoed_ends = approved_ends = 0
    for snap in snap_cb.rollouts:
        for o, r in zip(snap["batch_obs"].tolist(), snap["batch_rewards"].tolist(), strict=True):
            raw = last_steps.get((o[2], o[1]))
            if raw is None:
                continue  # not an episode's last step
            assert raw != pytest.approx(2.0 if o[0] == 1.0 else 1.0)  # bootstrap was added
            if o[0] == 1.0:
                vetoed_ends += 1
                assert r == 0.0
            else:
                approved_ends += 1
                assert r == pytest.approx(raw)
    assert vetoed_ends and approved_ends


def test_block_minibatches_hold_only_approved_steps():
    seen: list[np.ndarray] = []

    class Recording(ConsentRolloutBuffer):
        def _get_samples(self, batch_inds, env=None):
            samples = super()._get_samples(batch_inds, env)
            seen.append(samples.observations.numpy().copy())
            return samples

    model = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8, n_epochs=2, seed=0,
                rollout_buffer_class=Recording,
                rollout_buffer_kwargs=consent_kwargs(marker_judge(), mode="block")[
                    "rollout_buffer_kwargs"])
    model.learn(48, callback=ConsentCallback())
    obs = np.concatenate(seen)
    assert len(obs) > 0 and (obs[:, 0] == 0.0).all()


@pytest.mark.parametrize("batch_size", [5, None])
def test_get_yields_every_step_of_the_batch_exactly_once(batch_size):
    model = ppo(marked_venv(), marker_judge(), mode="zero", n_steps=16)
    model.learn(16, callback=ConsentCallback())
    buf = model.rollout_buffer
    n = buf.n_trainable
    want = np.asarray(buf.observations).reshape(n, -1)  # (bad, t, serial): unique rows
    expected_batches = 1 if batch_size is None else -(-n // batch_size)
    batches = list(itertools.islice(buf.get(batch_size), expected_batches + 1))
    assert n > 10 and len(batches) == expected_batches
    got = np.concatenate([b.observations.numpy() for b in batches])
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want.tolist()))


def test_record_step_out_of_order_and_a_wrong_env_are_refused():
    model = ppo(marked_venv(), marker_judge(), n_steps=16)
    model.learn(16, callback=ConsentCallback())
    buf = model.rollout_buffer
    no_ends = ([{}, {}], np.zeros(2, dtype=bool))
    with pytest.raises(RuntimeError, match=r"out of order \(row 16, seen 16\)"):
        buf.record_step(*no_ends)  # a 17th step of a 16-step rollout
    buf.reset()
    buf.record_step(*no_ends)
    with pytest.raises(RuntimeError, match=r"out of order \(row 0, seen 1\)"):
        buf.record_step(*no_ends)  # twice before add()
    with pytest.raises(ValueError, match="env has 1 sub-envs, the buffer 2"):
        buf.attach_env(marked_venv(1))


def test_rollout_buffer_built_by_hand_takes_its_settings_and_defaults(tmp_path):
    env = make_marked()
    space, action_space = env.observation_space, env.action_space
    buf = ConsentRolloutBuffer(16, space, action_space, judge=marker_judge(), mode="penalty",
                               penalty=-3.0, audit_log=tmp_path / "a.jsonl",
                               on_judge_error="raise", info_key="c2")
    assert (buf.consent.on_judge_error, buf.consent.info_key) == ("raise", "c2")
    assert (buf.n_envs, buf.gamma, buf.gae_lambda, buf.device) == (1, 0.99, 1,
                                                                   get_device("auto"))
    assert (buf.engine.num_envs, buf.engine.gamma, buf.engine.gae_lambda) == (1, 0.99, 1.0)
    assert buf.consent.judge is not None and buf.engine.settings is buf.consent
    assert (buf.mode, buf.consent.penalty, buf.consent.audit_log.path) == (
        "penalty", -3.0, tmp_path / "a.jsonl")
    assert buf.vec_normalize is None and buf.decisions == [] and buf.n_trainable == 0
    settings, stats = ConsentSettings(marker_judge(), mode="block"), ConsentStats()
    again = ConsentRolloutBuffer(16, space, action_space, device="meta", n_envs=2,
                                 gamma=0.5, gae_lambda=0.8, consent=settings, stats=stats)
    assert again.consent is settings and again.engine.settings is settings
    assert again.stats is stats and again.device == th.device("meta")
    assert (again.n_envs, again.gamma, again.gae_lambda) == (2, 0.5, 0.8)
    assert (again.engine.num_envs, again.engine.gamma, again.engine.gae_lambda) == (2, 0.5,
                                                                                    0.8)


def test_block_veto_all_leaves_ppo_exactly_unchanged_even_with_adam_state(veto_all, approve_all):
    model = ppo(marked_venv(), approve_all, mode="block")
    before = params_of(model)
    model.learn(32, callback=ConsentCallback())
    trained = params_of(model)
    assert not same(before, trained)  # approve-everything learns
    assert model.policy.optimizer.state  # Adam has moments: a zero-grad step would move
    model.rollout_buffer.consent.judge = veto_all
    model.learn(96, callback=ConsentCallback(), reset_num_timesteps=False)
    assert same(trained, model.policy.parameters())
    assert model.rollout_buffer.stats.skipped_updates == 3
    assert type(model) is PPO  # the callback restored the class


def test_block_veto_all_a2c_unchanged_and_approve_all_changes(veto_all, approve_all):
    for judge, changes in [(veto_all, False), (approve_all, True)]:
        model = A2C("MlpPolicy", marked_venv(), n_steps=8, seed=0, device="cpu",
                    **consent_kwargs(judge, mode="block"))
        before = params_of(model)
        model.learn(48, callback=ConsentCallback())
        assert same(before, model.policy.parameters()) is not changes


def test_approve_all_trains_every_step_of_every_finished_episode_once(approve_all):
    snap_cb, collected = Snapshot(), Collected()
    model = ppo(marked_venv(), approve_all, mode="block")
    model.learn(96, callback=[ConsentCallback(), collected, snap_cb])
    trained = [(o[2], o[1]) for snap in snap_cb.rollouts for o in snap["batch_obs"].tolist()]
    finished = []
    for steps in collected.steps:
        last_end = max(i for i, (_, _, done) in enumerate(steps) if done)
        finished += [(o[2], o[1]) for o, _, _ in steps[: last_end + 1]]
    assert sorted(trained) == sorted(finished)  # each exactly once, none still running
    raw = {(o[2], o[1]): r for steps in collected.steps for o, r, _ in steps}
    rewards = [r for snap in snap_cb.rollouts for r in snap["batch_rewards"].tolist()]
    assert rewards == pytest.approx([raw[k] for k in trained])

def test_straddling_episode_is_held_back_and_judged_once_whole(tmp_path):
    judge = RecordingJudge(marker_judge())
    venv = DummyVecEnv([functools.partial(
        make_marked, lengths=(12,), bad=(True, False), truncate=(False,), marker_step=2)])
    model = PPO("MlpPolicy", venv, n_steps=5, batch_size=5, n_epochs=1, seed=0,
                **consent_kwargs(judge, mode="block", audit_log=tmp_path / "audit.jsonl"))
    model.learn(15, callback=ConsentCallback())
    # rollouts 1 and 2 end no episode: nothing is judged and nothing trains (held back)
    (only,) = judge.batches
    # rollout 3: the first episode ends, judged whole (marker at its step 1): vetoed
    assert len(only) == 1 and "Ended: terminated at step 11" in only[0] and MARKER in only[0]
    records = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert [(r["fragment_start"], r["steps_used"], r["outcome"]) for r in records] == [
        (0, 12, "vetoed")]
    buf = model.rollout_buffer
    assert buf.trainable[:, 0].tolist() == [False] * 5 and buf.n_trainable == 0
    assert buf.engine.held_back_steps == 3  # the second episode's first steps wait
    assert buf.stats.skipped_updates == 3


@pytest.mark.parametrize(("marker_step", "algo"), [(3, "a2c"), (18, "a2c"), (3, "ppo")])
def test_no_reward_of_a_vetoed_episode_reaches_the_learner(marker_step, algo):
    """The leak of issue 20: 20-step episodes, every other one bad at one step."""
    snap_cb, collected = Snapshot(), Collected()
    venv = DummyVecEnv([functools.partial(
        make_marked, lengths=(20,), bad=(True, False), truncate=(False,),
        marker_step=marker_step)])
    kwargs = consent_kwargs(marker_judge(), mode="zero")
    if algo == "a2c":
        model = A2C("MlpPolicy", venv, n_steps=5, seed=0, **kwargs)
    else:
        model = PPO("MlpPolicy", venv, n_steps=16, batch_size=8, n_epochs=1, seed=0, **kwargs)
    model.learn(200, callback=[ConsentCallback(), collected, snap_cb])
    bad_reward = sum(r for snap in snap_cb.rollouts
                     for o, r in zip(snap["batch_obs"].tolist(), snap["batch_rewards"], strict=True)
                     if o[0] == 1.0)
    good_reward = sum(r for snap in snap_cb.rollouts
                      for o, r in zip(snap["batch_obs"].tolist(), snap["batch_rewards"],
                                      strict=True) if o[0] == 0.0)
    assert bad_reward == 0.0 and good_reward > 0


def test_penalty_is_charged_once_per_vetoed_episode_whatever_the_rollout_length():
    snap_cb = Snapshot()
    venv = DummyVecEnv([functools.partial(
        make_marked, lengths=(20,), bad=(True, False), truncate=(False,), marker_step=3)])
    model = A2C("MlpPolicy", venv, n_steps=5, seed=0,
                **consent_kwargs(marker_judge(), mode="penalty", penalty=-1.0))
    model.learn(200, callback=[ConsentCallback(), snap_cb])
    bad = [r for snap in snap_cb.rollouts
           for o, r in zip(snap["batch_obs"].tolist(), snap["batch_rewards"], strict=True)
           if o[0] == 1.0]
    vetoed = model.rollout_buffer.stats.vetoed
    assert vetoed >= 4 and len(bad) == 20 * vetoed
    assert sum(bad) == pytest.approx(-1.0 * vetoed) and bad.count(-1.0) == vetoed


def test_max_carry_steps_bounds_what_is_held_back():
    venv = DummyVecEnv([functools.partial(make_marked, lengths=(20,), bad=(False,),
                                          truncate=(False,))])
    model = A2C("MlpPolicy", venv, n_steps=5, seed=0,
                **consent_kwargs(RuleJudge(lambda t: True, name="yes"), max_carry_steps=7))
    with pytest.warns(UserWarning, match="max_carry_steps=7"):
        model.learn(40, callback=ConsentCallback())
    buf = model.rollout_buffer
    # Two 20-step episodes over 8 rollouts of 5: each keeps its last 7 held-back steps
    # plus the 5 of the rollout it ends in, so 20 - 12 = 8 steps of each are never trained.
    assert buf.stats.dropped_unjudged_steps == 16
    assert buf.stats.used_steps == 24 and buf.engine.held_back_steps == 0

def test_dict_observations_pick_the_dict_buffer_and_block():
    venv = marked_venv(dict_obs=True)
    model = PPO("MultiInputPolicy", venv, n_steps=16, batch_size=8, n_epochs=1, seed=0,
                **consent_kwargs(marker_judge(), mode="block", env=venv))
    assert isinstance(model.rollout_buffer, ConsentDictRolloutBuffer)
    # the plain class switches to the Dict variant by itself too
    plain = PPO("MultiInputPolicy", venv, n_steps=16, batch_size=8, seed=0,
                **consent_kwargs(marker_judge(), mode="block"))
    assert isinstance(plain.rollout_buffer, ConsentDictRolloutBuffer)
    model.learn(32, callback=ConsentCallback())
    buf = model.rollout_buffer
    bad = buf.observations["bad"].reshape(-1)  # the update's batch
    assert len(bad) == buf.n_trainable > 0 and (bad == 0).all()
    assert buf.stats.vetoed > 0

class CachingJudge:
    """Remembers verdicts and counts hits, like a judge with a verdict cache."""

    def __init__(self, inner) -> None:
        self.inner, self.judge_id = inner, f"cached:{inner.judge_id}"
        self.memory: dict[tuple[bool, bool], object] = {}
        self.cache_stats = {"hits": 0, "misses": 0}

    def judge_batch(self, texts):
        out = []
        for text in texts:
            key = (MARKER in text, "truncated" in text)  # all the verdict depends on
            hit = key in self.memory
            self.cache_stats["hits" if hit else "misses"] += 1
            if not hit:
                self.memory[key] = self.inner.judge_batch([text])[0]
            out.append(self.memory[key])
        return out


def test_logger_records_consent_keys_with_progress_bar(tmp_path):
    # members disagree on bad episodes that were truncated, so the panel flags them; the
    # caching wrapper makes cache_hit_rate available
    strict = marker_judge()
    lenient = RuleJudge(lambda t: MARKER not in t or "truncated" in t, name="lenient")
    judge = CachingJudge(JudgePanel([strict, lenient], policy="reference"))
    model = ppo(marked_venv(), judge, mode="zero")
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(96, callback=ConsentCallback(), progress_bar=True)
    with open(tmp_path / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    for key in ["consent/veto_rate", "consent/judged_episodes", "consent/judge_latency_s",
                "consent/judge_latency_ms_per_episode", "consent/failures", "consent/flagged",
                "consent/veto_rate_total", "consent/cache_hit_rate",
                "consent/vetoed_step_fraction"]:
        assert key in rows[0], key
    stats = model.rollout_buffer.stats
    last = rows[-1]
    assert float(last["consent/judged_episodes"]) == stats.judged > 0
    assert 0 < stats.veto_rate < 1
    assert float(last["consent/flagged"]) == stats.flagged > 0
    hits, misses = judge.cache_stats["hits"], judge.cache_stats["misses"]
    assert hits > 0
    assert float(last["consent/cache_hit_rate"]) == pytest.approx(hits / (hits + misses))


def test_audit_log_holds_every_verdict(tmp_path):
    path = tmp_path / "a.jsonl"
    model = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8, seed=0,
                **consent_kwargs(marker_judge(), mode="block", audit_log=path))
    model.learn(32, callback=ConsentCallback())
    records = list(read_audit_log(path))
    assert len(records) == model.rollout_buffer.stats.judged
    assert {r["judge_id"] for r in records} == {"rule:no-marker"}
    assert all(r["learner"] == "sb3-rollout:block" for r in records)
    json.dumps(records)


def test_audit_log_is_fsynced_before_the_buffer_applies_the_veto(tmp_path, monkeypatch):
    """Durability: the rollout's verdicts are on disk before they edit the rewards GAE uses
    (a spy on os.fsync snapshots the buffer's rewards at the moment of the sync)."""
    path = tmp_path / "a.jsonl"
    model = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8, seed=0, device="cpu",
                **consent_kwargs(marker_judge(), mode="zero", audit_log=path))
    buf = model.rollout_buffer
    spy = FsyncSpy(path, snapshot=lambda: (buf.rewards.copy(), buf.observations.copy()))
    monkeypatch.setattr(os, "fsync", spy)
    model.learn(32, callback=ConsentCallback())  # one rollout of 16 steps x 2 envs
    ((records, (rewards_at_sync, observations)),) = spy.calls
    bad = observations[:, :, 0] == 1.0  # MarkedEnv: bad steps pay 2, the rest 1
    assert bad.any() and (~bad).any()
    assert records == buf.stats.judged == len(list(read_audit_log(path)))
    # at the sync every bad step still paid >= 2 (SB3 adds the bootstrap on time-outs) ...
    assert (rewards_at_sync[bad] >= 2.0).all() and (rewards_at_sync[~bad] >= 1.0).all()
    # ... and only afterwards did the veto zero them in the batch the update uses (the
    # finished episodes; good steps untouched)
    bad_in_batch = buf.observations[:, 0] == 1.0
    assert bad_in_batch.any() and (~bad_in_batch).any()
    assert (buf.rewards[bad_in_batch] == 0.0).all()
    assert (buf.rewards[~bad_in_batch] >= 1.0).all()


def test_failing_judge_vetoes_and_is_counted(approve_all):
    class Broken:
        judge_id = "broken"

        def judge_batch(self, texts):
            raise RuntimeError("out of memory")

    model = ppo(marked_venv(), Broken(), mode="block")
    before = params_of(model)
    model.learn(32, callback=ConsentCallback())
    stats = model.rollout_buffer.stats
    assert stats.failed == stats.judged == stats.vetoed > 0
    assert same(before, model.policy.parameters())


def test_clear_errors_name_the_fix(approve_all):
    unwrapped = DummyVecEnv([lambda: MarkedEnv()])
    model = ppo(unwrapped, approve_all)
    with pytest.raises(TypeError, match="ConsentRecorder"):
        model.learn(16, callback=ConsentCallback())
    judging = DummyVecEnv([lambda: ConsentWrapper(MarkedEnv(), judge=RuleJudge(bool))])
    with pytest.raises(ValueError, match="ConsentWrapper, which judges"):
        ppo(judging, approve_all).learn(16, callback=ConsentCallback())
    with pytest.raises(RuntimeError, match=r"saw 0 of 16 steps' infos: pass the paired "
                                           r"callback"):
        ppo(marked_venv(), approve_all).learn(16)
    plain = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8)
    with pytest.raises(TypeError, match="consent_kwargs"):
        plain.learn(16, callback=ConsentCallback())
    with pytest.raises(TypeError, match="needs a judge"):
        PPO("MlpPolicy", marked_venv(), rollout_buffer_class=ConsentRolloutBuffer)
    with pytest.raises(ValueError, match="mode="):
        consent_kwargs(approve_all, mode="drop")  # type: ignore[arg-type]


def test_save_does_not_pickle_the_judge_and_load_takes_it_back(tmp_path, approve_all):
    model = ppo(marked_venv(), approve_all)
    model.learn(16, callback=ConsentCallback())
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", env=marked_venv())
    with pytest.raises(RuntimeError, match=r"the model's rollout buffer has no judge .*"
                                           r"custom_objects=.* or set "
                                           r"model\.rollout_buffer\.consent\.judge = judge"):
        loaded.learn(16, callback=ConsentCallback())
    again = PPO.load(tmp_path / "m.zip", env=marked_venv(),
                     custom_objects=consent_kwargs(approve_all, mode="block"))
    again.learn(16, callback=ConsentCallback())
    assert again.rollout_buffer.stats.judged > 0


class FrozenCountingJudge(RuleJudge):
    """Approves everything and counts full frozen-weight checks; can be set to fail them."""

    def __init__(self) -> None:
        super().__init__(lambda text: True, name="frozen-counting")
        self.full_checks = 0
        self.tampered = False

    def verify_frozen(self, full: bool = True) -> None:
        if full:
            self.full_checks += 1
        if self.tampered:
            raise RuntimeError("weights changed")


def test_callback_runs_full_frozen_check_at_start_and_end_of_training():
    judge = FrozenCountingJudge()
    model = ppo(marked_venv(), judge, mode="zero")
    model.learn(32, callback=ConsentCallback())
    assert judge.full_checks == 2
    judge.tampered = True
    with pytest.raises(RuntimeError, match="weights changed"):
        model.learn(32, callback=ConsentCallback())


def test_training_refuses_an_unlocked_served_judge_and_stops_when_its_server_changes():
    from consent_gym.judges import FrozenJudgeError
    from consent_gym.judges.served import ServedJudge, freeze_served_judge
    from tests.judges.served_fakes import fake_server

    with fake_server() as (url, behaviour):
        unlocked = ServedJudge(url, "toy", headers="traffic", examples=[])
        with pytest.raises(FrozenJudgeError, match="freeze-judge"):
            ppo(marked_venv(), unlocked, mode="zero").learn(32, callback=ConsentCallback())
        opted_out = ServedJudge(url, "toy", headers="traffic", examples=[],
                                allow_unlocked=True)
        ppo(marked_venv(), opted_out, mode="zero").learn(32, callback=ConsentCallback())
        locked = ServedJudge(url, "toy", headers="traffic", examples=[],
                             lock=freeze_served_judge(opted_out, repeats=2))
        model = ppo(marked_venv(), locked, mode="zero")
        model.learn(32, callback=ConsentCallback())
        behaviour.weights = 1.01  # the server now serves other weights
        with pytest.raises(FrozenJudgeError, match="no longer behaves as its lock"):
            model.learn(64, callback=ConsentCallback())


def test_gated_class_is_made_once_per_algorithm_and_counts_each_skipped_update(
    tmp_path, veto_all
):
    gated = gated_class(PPO)
    assert gated is gated_class(PPO) is gated_class(gated)  # one per algorithm, never nested
    assert gated.__name__ == "ConsentGatedPPO" and gated._consent_base_class is PPO
    assert gated.train.__doc__ == "PPO.train, skipped when the consent buffer is empty."
    assert issubclass(gated, PPO) and gated.__module__ == "consent_gym.sb3.callback"
    plain = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8)
    assert nothing_to_learn(plain) is False  # no consent buffer: never skip its update
    model = ppo(marked_venv(), veto_all, n_steps=16)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(96, callback=ConsentCallback())  # 3 rollouts of 2 x 16 steps, all vetoed
    assert model.rollout_buffer.stats.skipped_updates == 3 and type(model) is PPO
    with open(tmp_path / "progress.csv") as f:
        logged = [row["consent/skipped_updates"] for row in csv.DictReader(f)]
    # SB3 writes a rollout's values before that rollout's update: the last one is pending
    assert [float(v) for v in logged if v] == [1.0, 2.0]
    assert model.logger.name_to_value["consent/skipped_updates"] == 3
