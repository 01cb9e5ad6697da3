"""ConsentRolloutBuffer with PPO/A2C: exact veto semantics, checked against references."""

from __future__ import annotations

import csv
import functools
import json
import os

import numpy as np
import pytest
import torch as th
from sb3_testenvs import MARKER, MarkedEnv, RecordingJudge, make_marked, marker_judge
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv

from consent_gym import ConsentWrapper, read_audit_log
from consent_gym.judges import RuleJudge
from consent_gym.judges.panel import JudgePanel
from consent_gym.sb3 import (
    ConsentCallback,
    ConsentDictRolloutBuffer,
    ConsentRolloutBuffer,
    consent_kwargs,
)
from tests.fakes import FsyncSpy

GAMMA, LAM = 0.9, 0.8


def marked_venv(n_envs: int = 2, **kwargs) -> DummyVecEnv:
    return DummyVecEnv(
        [functools.partial(make_marked, offset=7 * i, **kwargs) for i in range(n_envs)]
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
    """Copies the rollout buffer at on_rollout_end (after returns, before training)."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[dict[str, np.ndarray]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buf = self.model.rollout_buffer
        self.rollouts.append({
            "obs": np.array(buf.observations), "rewards": buf.rewards.copy(),
            "raw": buf.raw_rewards.copy(), "values": buf.values.copy(),
            "starts": buf.episode_starts.copy(), "adv": buf.advantages.copy(),
            "returns": buf.returns.copy(), "trainable": buf.trainable.copy(),
            "last_values": self.locals["values"].detach().numpy().flatten().copy(),
            "dones": np.asarray(self.locals["dones"], dtype=np.float64).copy(),
        })


def reference_gae(rewards, values, starts, last_values, dones, gamma, lam):
    """GAE(lambda) written out independently of SB3 and consent-gym."""
    n, n_envs = rewards.shape
    adv = np.zeros((n, n_envs), dtype=np.float64)
    for e in range(n_envs):
        running = 0.0
        for t in range(n - 1, -1, -1):
            if t == n - 1:
                nonterminal, next_value = 1.0 - dones[e], last_values[e]
            else:
                nonterminal, next_value = 1.0 - starts[t + 1, e], values[t + 1, e]
            delta = rewards[t, e] + gamma * next_value * nonterminal - values[t, e]
            running = delta + gamma * lam * nonterminal * running
            adv[t, e] = running
    return adv


def expected_edit(snap, mode: str, penalty: float):
    """Rewards and GAE dones for a rollout, from the bad flags the env puts in obs."""
    bad = snap["obs"][:, :, 0] == 1.0
    raw = snap["raw"].astype(np.float64)
    n, n_envs = raw.shape
    rewards = np.where(bad, 0.0, raw)
    dones = snap["dones"].copy()
    for e in range(n_envs):
        for t in range(n):
            piece_ends = t == n - 1 or snap["starts"][t + 1, e] == 1.0
            if bad[t, e] and piece_ends:
                if mode == "penalty":
                    rewards[t, e] = penalty
                if t == n - 1:
                    dones[e] = 1.0
    return rewards, dones, bad


@pytest.mark.parametrize("mode", ["zero", "penalty", "block"])
def test_advantages_equal_reference_gae_on_edited_rewards(mode):
    snap_cb = Snapshot()
    model = ppo(marked_venv(), marker_judge(), mode=mode)
    model.learn(96, callback=[ConsentCallback(), snap_cb])
    assert len(snap_cb.rollouts) == 3
    for snap in snap_cb.rollouts:
        rewards, dones, bad = expected_edit(snap, mode, penalty=-100.0)
        assert bad.any() and (~bad).any()
        np.testing.assert_allclose(snap["rewards"], rewards, rtol=0, atol=1e-6)
        ref = reference_gae(rewards, snap["values"], snap["starts"], snap["last_values"],
                            dones, GAMMA, LAM)
        check = ~bad if mode == "block" else np.ones_like(bad)
        np.testing.assert_allclose(snap["adv"][check], ref[check], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(snap["returns"][check], (ref + snap["values"])[check],
                                   rtol=1e-5, atol=1e-5)
        assert (snap["trainable"] == (~bad if mode == "block" else True)).all()


def test_truncation_bootstrap_removed_only_for_vetoed_episodes():
    snap_cb = Snapshot()
    # every episode truncated: SB3 adds gamma * V(terminal_obs) to each last reward
    model = ppo(marked_venv(truncate=(True,)), marker_judge(), mode="zero")
    model.learn(32, callback=[ConsentCallback(), snap_cb])
    vetoed_ends = approved_ends = 0
    for snap in snap_cb.rollouts:
        bad = snap["obs"][:, :, 0] == 1.0
        n, n_envs = bad.shape
        for e in range(n_envs):
            for t in range(n - 1):
                if snap["starts"][t + 1, e] != 1.0:
                    continue  # not an episode's last step
                env_reward = 2.0 if bad[t, e] else 1.0
                assert snap["raw"][t, e] != pytest.approx(env_reward)  # bootstrap was added
                if bad[t, e]:
                    vetoed_ends += 1
                    assert snap["rewards"][t, e] == 0.0
                else:
                    approved_ends += 1
                    assert snap["rewards"][t, e] == snap["raw"][t, e]
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


def test_approve_all_is_bitwise_plain_ppo(approve_all):
    gated = ppo(marked_venv(), approve_all, mode="block")
    gated.learn(48, callback=ConsentCallback())
    plain = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8, n_epochs=2, gamma=GAMMA,
                gae_lambda=LAM, seed=0, device="cpu", policy_kwargs={"net_arch": [16]})
    plain.learn(48)
    assert same(params_of(plain), gated.policy.parameters())


def test_straddling_episode_judged_on_the_fragment_each_update_uses(tmp_path):
    judge = RecordingJudge(marker_judge())
    venv = DummyVecEnv([functools.partial(
        make_marked, lengths=(12,), bad=(True, False), truncate=(False,), marker_step=2)])
    model = PPO("MlpPolicy", venv, n_steps=5, batch_size=5, n_epochs=1, seed=0,
                **consent_kwargs(judge, mode="block", audit_log=tmp_path / "audit.jsonl"))
    model.learn(15, callback=ConsentCallback())
    b1, b2, b3 = judge.batches
    # rollout 1: steps 0-4 of the (bad) first episode, marker at step 1 -> vetoed
    assert len(b1) == 1 and "Still running" in b1[0] and MARKER in b1[0]
    # rollout 2: steps 5-9 only, which show nothing wrong -> approved
    assert len(b2) == 1 and "(from step 5)" in b2[0] and MARKER not in b2[0]
    # rollout 3: the first episode ends (judged whole: vetoed), the second one starts
    assert len(b3) == 2 and "Ended: terminated at step 11" in b3[0] and MARKER in b3[0]
    assert "Still running" in b3[1] and "(from step" not in b3[1] and MARKER not in b3[1]
    records = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert [r["fragment_start"] for r in records] == [0, 5, 10, 0]
    assert [r["steps_used"] for r in records] == [5, 5, 2, 3]
    assert [r["outcome"] for r in records] == ["vetoed", "approved", "vetoed", "approved"]
    assert model.rollout_buffer.trainable[:, 0].tolist() == [False, False, True, True, True]


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
    bad = buf.observations["bad"].reshape(-1).astype(bool)  # flattened by get()
    flat_trainable = buf.trainable.swapaxes(0, 1).reshape(-1)
    assert bad.any() and (flat_trainable == ~bad).all()


class CachingJudge:
    """Remembers verdicts and counts hits, like a judge with a verdict cache."""

    def __init__(self, inner) -> None:
        self.inner, self.judge_id = inner, f"cached:{inner.judge_id}"
        self.memory: dict[tuple[bool, bool], object] = {}
        self.cache_stats = {"hits": 0, "misses": 0}

    def judge_batch(self, texts):
        out = []
        for text in texts:
            key = (MARKER in text, "Still running" in text)  # all the verdict depends on
            hit = key in self.memory
            self.cache_stats["hits" if hit else "misses"] += 1
            if not hit:
                self.memory[key] = self.inner.judge_batch([text])[0]
            out.append(self.memory[key])
        return out


def test_logger_records_consent_keys_with_progress_bar(tmp_path):
    # members disagree on bad episodes that straddle a boundary ("Still running"), so the
    # panel flags them; the caching wrapper makes cache_hit_rate available
    strict = marker_judge()
    lenient = RuleJudge(lambda t: MARKER not in t or "Still running" in t, name="lenient")
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
    # ... and only afterwards did the veto zero them (good steps untouched)
    assert (buf.rewards[bad] == 0.0).all()
    np.testing.assert_array_equal(buf.rewards[~bad], rewards_at_sync[~bad])


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
    with pytest.raises(TypeError, match="ConsentWrapper"):
        model.learn(16, callback=ConsentCallback())
    deferred = DummyVecEnv([lambda: ConsentWrapper(MarkedEnv(), judge=RuleJudge(bool))])
    with pytest.raises(ValueError, match="defer_rewards=False"):
        ppo(deferred, approve_all).learn(16, callback=ConsentCallback())
    with pytest.raises(RuntimeError, match="ConsentCallback"):
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
    with pytest.raises(RuntimeError, match="custom_objects"):
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
