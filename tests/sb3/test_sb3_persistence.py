"""Issue 20: consent buffers survive SB3's own saving, copying and wrappers; n-step; HER."""

from __future__ import annotations

import copy
import functools
import pickle

import numpy as np
import pytest
from sb3_testenvs import make_marked, marker_judge
from stable_baselines3 import DQN, PPO, HerReplayBuffer
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from consent_gym.judges import RuleJudge
from consent_gym.sb3 import ConsentCallback, ConsentReplayBuffer, consent_kwargs


def marked_venv(n_envs: int = 2, **kwargs) -> DummyVecEnv:
    return DummyVecEnv(
        [functools.partial(make_marked, offset=500 * i, **kwargs) for i in range(n_envs)]
    )


def dqn(venv, judge, mode="zero", **kwargs) -> DQN:
    params = dict(learning_starts=20, train_freq=4, gradient_steps=1, batch_size=16,
                  buffer_size=2000, target_update_interval=40, seed=0, device="cpu",
                  policy_kwargs={"net_arch": [16]})
    params.update(kwargs)
    return DQN("MlpPolicy", venv, **params, **consent_kwargs(judge, mode=mode, algo=DQN))


@pytest.mark.parametrize("clone", [pickle.loads, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_consent_buffers_pickle_and_deepcopy(clone):
    model = dqn(marked_venv(), marker_judge())
    model.learn(60, callback=ConsentCallback())
    buf = model.replay_buffer
    data = pickle.dumps(buf) if clone is pickle.loads else buf
    again = clone(data)
    assert type(again) is type(buf) and again.size() == buf.size() > 0
    np.testing.assert_array_equal(again.rewards[: buf.size()], buf.rewards[: buf.size()])
    assert again.consent.judge is None  # a judge is never serialised
    ppo = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8,
              **consent_kwargs(marker_judge()))
    assert type(clone(pickle.dumps(ppo.rollout_buffer) if clone is pickle.loads
                      else ppo.rollout_buffer)).__name__ == "ConsentRolloutBuffer"


def test_saved_replay_buffer_loads_and_the_judge_given_on_load_wins(tmp_path):
    model = dqn(marked_venv(), marker_judge(), mode="zero")
    model.learn(60, callback=ConsentCallback())
    committed = model.replay_buffer.size()
    model.save(tmp_path / "m.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    yes = RuleJudge(lambda text: True, name="yes")
    loaded = DQN.load(tmp_path / "m.zip", env=marked_venv(),
                      custom_objects=consent_kwargs(yes, mode="block", algo=DQN))
    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    assert isinstance(loaded.replay_buffer, ConsentReplayBuffer)
    assert loaded.replay_buffer.size() == committed
    loaded.learn(60, callback=ConsentCallback(), reset_num_timesteps=False)
    assert loaded.replay_buffer.consent.judge is yes and loaded.replay_buffer.mode == "block"
    assert loaded.replay_buffer.size() > committed


def test_loaded_replay_buffer_without_a_judge_names_the_fix(tmp_path):
    model = dqn(marked_venv(), marker_judge())
    model.learn(40, callback=ConsentCallback())
    model.save(tmp_path / "m.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    loaded = DQN.load(tmp_path / "m.zip", env=marked_venv())
    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    with pytest.raises(RuntimeError, match=r"custom_objects=consent_gym\.sb3\.consent_kwargs"):
        loaded.learn(20, callback=ConsentCallback())


@pytest.mark.parametrize("n", [2, 3])
def test_n_step_returns_use_the_algorithms_n_and_gamma_within_one_episode(n):
    model = dqn(marked_venv(1, lengths=(6,), bad=(False,), truncate=(False,)),
                RuleJudge(lambda text: True, name="yes"), n_steps=n, gamma=0.5)
    model.learn(60, callback=ConsentCallback())
    buf = model.replay_buffer
    assert (buf.n_steps, buf.gamma) == (n, 0.5)
    samples = buf._get_samples(np.arange(buf.size()))
    t = buf.observations[: buf.size(), 0, 1]  # the step within the 6-step episode
    # reward 1 per step: 1 + 0.5 (+ 0.25 for n=3) unless the episode ends sooner
    want = [sum(0.5**k for k in range(min(n, 6 - int(s)))) for s in t]
    np.testing.assert_allclose(samples.rewards.numpy().ravel(), want, rtol=1e-6)
    done = samples.dones.numpy().ravel()
    assert (done == (t >= 6 - n)).all()  # the look-ahead reaches the episode's end, never past


def test_her_and_an_nstep_mixin_are_refused_by_name():
    class WithHer(ConsentReplayBuffer, HerReplayBuffer):  # type: ignore[misc]
        pass

    class WithNStep(ConsentReplayBuffer, NStepReplayBuffer):
        pass

    space = make_marked().observation_space
    action = make_marked().action_space
    for cls, match in [(WithHer, "Hindsight Experience Replay"), (WithNStep, "n_steps")]:
        with pytest.raises(TypeError, match=match):
            cls(100, space, action, judge=marker_judge())


class PenaltySeen(BaseCallback):
    """The penalties each update's batch carries (no other reward here is below -1)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        rewards = self.model.rollout_buffer.batch.arrays["rewards"]
        self.seen += rewards[rewards < -1].tolist()


def test_penalty_under_vecnormalize_is_in_the_learners_units():
    venv = VecNormalize(marked_venv(), norm_obs=False, norm_reward=True, clip_reward=10.0)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=8, n_epochs=1, seed=0,
                **consent_kwargs(marker_judge(), mode="penalty", penalty=-100.0))
    seen = PenaltySeen()
    model.learn(64, callback=[ConsentCallback(), seen])
    assert seen.seen and all(p == pytest.approx(-10.0) for p in seen.seen)  # clipped as DQN


def test_callback_refusals_name_the_buffer_kind_the_algorithm_and_the_fix(tmp_path):
    """Each refusal of ConsentCallback, word for word: the fix it names must be the one for
    this algorithm (``algo=`` only off-policy) and this buffer."""
    from stable_baselines3.common.envs import BitFlippingEnv

    from consent_gym.sb3.common import WRAP_HINT

    def refusal(model, error=TypeError) -> str:
        with pytest.raises(error) as caught:
            model.learn(16, callback=ConsentCallback())
        return str(caught.value)

    fix = "**consent_gym.sb3.consent_kwargs(judge, mode='block'"
    assert refusal(PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8)) == (
        "PPO's rollout buffer is not a consent buffer: build the model with the consent "
        f"kwargs, e.g. PPO('MlpPolicy', env, {fix}))."
    )
    assert refusal(DQN("MlpPolicy", marked_venv(), learning_starts=20)) == (
        "DQN's replay buffer is not a consent buffer: build the model with the consent "
        f"kwargs, e.g. DQN('MlpPolicy', env, {fix}, algo=DQN))."
    )
    her = DQN("MultiInputPolicy", BitFlippingEnv(n_bits=4), learning_starts=20,
              replay_buffer_class=HerReplayBuffer)
    assert refusal(her) == (
        "Hindsight Experience Replay (HerReplayBuffer) cannot be consent-gated: it relabels "
        "goals after the judge read the episode, so it would train on transitions nobody "
        "judged. Train without HER."
    )
    half = DummyVecEnv([make_marked, make_marked, lambda: make_marked().env])
    assert refusal(dqn(half, marker_judge())) == (
        f"sub-envs [2] are not wrapped in ConsentRecorder: {WRAP_HINT}."
    )
    nstep_dict = DQN("MultiInputPolicy", marked_venv(dict_obs=True), learning_starts=20,
                     n_steps=2, **consent_kwargs(marker_judge(), mode="block", algo=DQN))
    assert refusal(nstep_dict, ValueError) == (
        "n-step returns are not supported for Dict observation spaces (nor by SB3's "
        "NStepReplayBuffer); use n_steps=1."
    )
    # a model loaded without its judge: the fix for each algorithm
    for algo, kind, build in [
        (PPO, "rollout", lambda: PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8,
                                     **consent_kwargs(marker_judge(), mode="block"))),
        (DQN, "replay", lambda: dqn(marked_venv(), marker_judge())),
    ]:
        model = build()
        model.learn(32, callback=ConsentCallback())
        model.save(tmp_path / f"{kind}.zip")
        loaded = algo.load(tmp_path / f"{kind}.zip", env=marked_venv())
        algo_arg = "" if algo is PPO else ", algo=DQN"
        assert refusal(loaded, RuntimeError) == (
            f"the model's {kind} buffer has no judge (judges are never saved): load the "
            f"model with custom_objects=consent_gym.sb3.consent_kwargs(judge, mode=...)"
            f"{algo_arg}) or set model.{kind}_buffer.consent.judge = judge."
        )


def test_learn_after_an_interrupted_learn_gives_back_the_algorithms_own_class(capsys):
    """An exception mid-training leaves the model gated; the next learn() must still end with
    the model's class the algorithm's (PPO), and a quiet callback by default."""

    class Interrupt(BaseCallback):
        def _on_step(self) -> bool:
            raise KeyboardInterrupt

    model = PPO("MlpPolicy", marked_venv(), n_steps=16, batch_size=8,
                **consent_kwargs(marker_judge(), mode="block"))
    callback = ConsentCallback()
    assert callback.buffer is None
    with pytest.raises(KeyboardInterrupt):
        model.learn(16, callback=[callback, Interrupt()])
    assert type(model).__name__ == "ConsentGatedPPO"
    model.learn(32, callback=ConsentCallback())
    assert type(model) is PPO
    assert capsys.readouterr().out == ""


def test_loaded_replay_buffer_takes_a_judge_set_on_it_as_the_refusal_says(tmp_path):
    """``model.replay_buffer.consent.judge = judge`` (the fix the refusal names) must hold:
    the judge-less settings the model was loaded with must not replace it."""
    model = dqn(marked_venv(), marker_judge())
    model.learn(40, callback=ConsentCallback())
    model.save(tmp_path / "m.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    loaded = DQN.load(tmp_path / "m.zip", env=marked_venv())
    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    yes = RuleJudge(lambda text: True, name="yes")
    loaded.replay_buffer.consent.judge = yes
    judged_before = loaded.replay_buffer.stats.judged
    loaded.learn(60, callback=ConsentCallback(), reset_num_timesteps=False)
    assert loaded.replay_buffer.consent.judge is yes
    assert loaded.replay_buffer.stats.judged > judged_before
