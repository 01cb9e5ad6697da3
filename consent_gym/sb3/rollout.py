"""On-policy (PPO, A2C): a rollout buffer that judges the rollout before returns are computed.

SB3 calls ``rollout_buffer.compute_returns_and_advantage()`` at the end of
``collect_rollouts`` and only *then* ``callback.on_rollout_end()``. The veto therefore lands
inside :meth:`ConsentRolloutBuffer.compute_returns_and_advantage`, which hands the rollout
to :class:`~consent_gym.rollout.RolloutConsent` (the library-agnostic learner integration):
each episode that ended is judged once, whole, in one batch; steps of episodes still
running are held back until their episode ends; GAE runs on what may be learned from.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from consent_gym.audit import AuditLog
from consent_gym.gate import ConsentSettings, ConsentStats, Decision, Mode
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.rollout import ConsentBatch, RolloutConsent
from consent_gym.sb3.common import as_settings

_NO_CALLBACK = (
    "ConsentRolloutBuffer saw {seen} of {n} steps' infos: pass the paired callback, "
    "model.learn(..., callback=consent_gym.sb3.ConsentCallback()), so the buffer learns "
    "where episodes end and what the recorder rendered."
)


class ConsentRolloutBuffer(RolloutBuffer):
    """SB3 ``RolloutBuffer`` that applies a frozen judge's veto before returns are computed.

    Pass it as ``rollout_buffer_class=`` to PPO or A2C, most simply through
    :func:`~consent_gym.sb3.consent_kwargs`, and train with
    :class:`~consent_gym.sb3.ConsentCallback` (it hands the buffer each step's ``infos``).
    With a ``Dict`` observation space the constructor returns a
    :class:`ConsentDictRolloutBuffer`.

    Per rollout, every episode that ended is judged once, on its whole text (rendered by
    :class:`~consent_gym.ConsentRecorder` at its last step), all in one batch. Then:

    - approved: its steps train as collected;
    - ``"zero"``: its rewards are 0 (SB3's truncation bootstrap ``gamma * V(terminal_obs)``
      included);
    - ``"penalty"``: its rewards are 0 except its last step, which carries ``penalty``
      once per episode, however many rollouts it spans (under ``VecNormalize`` with
      ``norm_reward``, the penalty is normalised as the env's rewards are:
      ``venv.normalize_reward(penalty)``, as SB3's replay buffers do);
    - ``"block"``: its steps reach no update at all; a rollout with nothing to learn from
      makes :class:`~consent_gym.sb3.ConsentCallback` skip the update (no optimizer step).

    A vetoed episode's last step is terminal, so no value bootstrap adds to it. The steps of
    an episode still running when the rollout ends are held back, in no update, until the
    episode ends and is judged; they then train in the rollout in which it ends, with the
    values and log-probabilities recorded when they were collected (one or more updates
    old; ``max_carry_steps`` bounds how many are kept). So no reward of a vetoed episode
    reaches the learner, however long the episode. The rollout's raw rewards stay in
    :attr:`raw_rewards`; :attr:`trainable` marks this rollout's steps that the update uses,
    :attr:`batch` holds everything it uses.

    Args:
        buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs:
            As for SB3's ``RolloutBuffer`` (SB3 passes them).
        consent: A :class:`~consent_gym.gate.ConsentSettings`; or give ``judge`` and
            the other settings directly.
        judge, mode, penalty, audit_log, on_judge_error, info_key: See
            :class:`~consent_gym.gate.ConsentSettings`.
        max_carry_steps: See :class:`~consent_gym.rollout.RolloutConsent`.
        stats: Where decisions are counted (default: a fresh ``ConsentStats``).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> ConsentRolloutBuffer:
        space = args[1] if len(args) > 1 else kwargs.get("observation_space")
        if cls is ConsentRolloutBuffer and isinstance(space, spaces.Dict):
            cls = ConsentDictRolloutBuffer
        return super().__new__(cls)

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        gae_lambda: float = 1,
        gamma: float = 0.99,
        n_envs: int = 1,
        *,
        consent: ConsentSettings | None = None,
        judge: Judge | None = None,
        mode: Mode | None = None,
        penalty: float | None = None,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError | None = None,
        info_key: str | None = None,
        max_carry_steps: int | None = None,
        stats: ConsentStats | None = None,
    ) -> None:
        if consent is None and judge is None:
            raise TypeError(
                "ConsentRolloutBuffer needs a judge: PPO('MlpPolicy', env, "
                "**consent_gym.sb3.consent_kwargs(judge, mode='block'))."
            )
        self.consent = as_settings(
            consent, judge=judge, mode=mode, penalty=penalty, audit_log=audit_log,
            on_judge_error=on_judge_error, info_key=info_key,
        )
        self.engine = RolloutConsent(
            self.consent, n_envs, gamma=gamma, gae_lambda=gae_lambda,
            max_carry_steps=max_carry_steps, stats=stats,
        )
        self.vec_normalize: VecNormalize | None = None
        super().__init__(
            buffer_size, observation_space, action_space, device=device,
            gae_lambda=gae_lambda, gamma=gamma, n_envs=n_envs,
        )

    # ------------------------------------------------------------------ plumbing
    @property
    def mode(self) -> Mode:
        """The veto mode: ``"zero"``, ``"penalty"`` or ``"block"``."""
        return self.consent.mode

    @property
    def stats(self) -> ConsentStats:
        """What the decision step counted for this buffer."""
        return self.engine.stats

    def attach_env(self, env: VecEnv, vec_normalize: VecNormalize | None = None) -> None:
        """Called by :class:`~consent_gym.sb3.ConsentCallback` at the start of training."""
        if env.num_envs != self.n_envs:
            raise ValueError(f"env has {env.num_envs} sub-envs, the buffer {self.n_envs}.")
        self.vec_normalize = vec_normalize

    def reset(self) -> None:
        """Start a new rollout (held-back steps of running episodes carry over)."""
        super().reset()
        self.raw_rewards = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self.trainable = np.zeros((self.buffer_size, self.n_envs), dtype=bool)
        self.batch: ConsentBatch | None = None
        self._steps_seen = 0
        self._n_batch = 0

    def record_step(self, infos: Sequence[Mapping[str, Any]], dones: np.ndarray) -> None:
        """Called by :class:`~consent_gym.sb3.ConsentCallback` after each ``env.step``.

        Runs before SB3 ``add()``\\ s the same step, so the step goes to row ``self.pos``.
        """
        row = self.pos
        if row >= self.buffer_size or row != self._steps_seen:
            raise RuntimeError(
                f"ConsentRolloutBuffer.record_step out of order (row {row}, seen "
                f"{self._steps_seen}); it must be called exactly once per env.step, by "
                f"ConsentCallback, before the buffer's add()."
            )
        self.engine.record_step(row, dones, infos)
        self._steps_seen += 1

    # ------------------------------------------------------------------ the veto
    def judge_rollout(self, dones: np.ndarray) -> ConsentBatch:
        """Judge the rollout in one call, apply the veto, and build the update's batch."""
        if self._steps_seen != self.buffer_size:
            raise RuntimeError(_NO_CALLBACK.format(seen=self._steps_seen, n=self.buffer_size))
        self.raw_rewards = self.rewards.copy()
        self.engine.learner = f"sb3-rollout:{self.mode}"
        penalty = self.consent.penalty
        if self.vec_normalize is not None and self.vec_normalize.norm_reward:
            # The rewards here are already normalised: the penalty is put in their units.
            penalty = float(self.vec_normalize.normalize_reward(np.array([penalty]))[0])
        arrays: dict[str, Any] = {"actions": self.actions, "log_probs": self.log_probs}
        if isinstance(self.observations, dict):
            arrays.update({f"obs:{k}": v for k, v in self.observations.items()})
        else:
            arrays["observations"] = self.observations
        ends = np.zeros((self.buffer_size, self.n_envs), dtype=bool)
        ends[:-1] = self.episode_starts[1:] > 0
        ends[-1] = np.asarray(dones, dtype=bool).reshape(self.n_envs)
        batch = self.engine.process(
            arrays, rewards=self.rewards, values=self.values,
            starts=self.episode_starts > 0, ends=ends, penalty=penalty,
        )
        self.batch, self.trainable = batch, batch.trainable
        return batch

    def compute_returns_and_advantage(self, last_values: th.Tensor, dones: np.ndarray) -> None:
        """Judge and veto (:meth:`judge_rollout`); GAE over what the update may use.

        The rollout-end bootstrap (``last_values``) is never needed: only finished episodes
        are learned from.
        """
        batch = self.judge_rollout(dones)
        a = batch.arrays
        if isinstance(self.observations, dict):
            self.observations = {k: a[f"obs:{k}"] for k in self.observations}  # type: ignore[assignment]
        else:
            self.observations = a["observations"]
        self.actions, self.log_probs = a["actions"], a["log_probs"]
        self.values, self.rewards = a["values"], a["rewards"]
        self.advantages, self.returns = a["advantages"], a["returns"]
        self._n_batch = len(batch)
        self.generator_ready = True

    @property
    def decisions(self) -> list[Decision]:
        """The decision on each episode judged in this rollout."""
        return self.batch.decisions if self.batch is not None else []

    # ------------------------------------------------------------------ sampling
    @property
    def n_trainable(self) -> int:
        """Steps the coming update may use (0: the callback skips the update)."""
        return self._n_batch

    def get(self, batch_size: int | None = None) -> Generator[Any, None, None]:
        """Minibatches over the steps the update may use, in a fresh random order."""
        assert self.full, ""
        total = self._n_batch
        indices = np.random.permutation(total)
        if batch_size is None:
            batch_size = total
        start = 0
        while start < total:
            yield self._get_samples(indices[start : start + batch_size])
            start += batch_size


class ConsentDictRolloutBuffer(ConsentRolloutBuffer, DictRolloutBuffer):
    """:class:`ConsentRolloutBuffer` for ``Dict`` observation spaces.

    ``ConsentRolloutBuffer(...)`` returns one automatically when the space is a ``Dict``.
    """


__all__ = ["ConsentDictRolloutBuffer", "ConsentRolloutBuffer"]
