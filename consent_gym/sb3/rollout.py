"""On-policy (PPO, A2C): a rollout buffer that judges the rollout before returns are computed.

SB3 calls ``rollout_buffer.compute_returns_and_advantage()`` at the end of
``collect_rollouts`` and only *then* ``callback.on_rollout_end()``. The veto therefore lands
inside :meth:`ConsentRolloutBuffer.compute_returns_and_advantage`: the rollout's episodes
(and the fragments of episodes still running) are judged in one call, vetoed rewards are
edited, vetoed pieces are cut off from any value bootstrap, and only then are GAE
advantages and returns computed. In ``"block"`` mode :meth:`ConsentRolloutBuffer.get`
yields only approved steps.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.vec_env import VecEnv

from consent_gym.audit import AuditLog
from consent_gym.judges.base import Judge, OnJudgeError, Verdict
from consent_gym.sb3.common import (
    ConsentSettings,
    ConsentStats,
    Mode,
    Piece,
    as_settings,
    consent_record,
    judge_pieces,
    vetoed_rewards,
)

_NO_CALLBACK = (
    "ConsentRolloutBuffer saw {seen} of {n} steps' infos: pass the paired callback, "
    "model.learn(..., callback=consent_gym.sb3.ConsentCallback()), so the buffer learns "
    "where episodes end and what the wrapper rendered."
)


class ConsentRolloutBuffer(RolloutBuffer):
    """SB3 ``RolloutBuffer`` that applies a frozen judge's veto before returns are computed.

    Pass it as ``rollout_buffer_class=`` to PPO or A2C, most simply through
    :func:`~consent_gym.sb3.consent_kwargs`, and train with
    :class:`~consent_gym.sb3.ConsentCallback` (it hands the buffer each step's ``infos``).
    With a ``Dict`` observation space the constructor returns a
    :class:`ConsentDictRolloutBuffer`.

    Per rollout, every *piece* is judged in one batch: each episode that ended in the
    rollout (its whole text, as the wrapper rendered it at its last step) and, for each
    sub-env whose episode is still running, the fragment the update will use (the wrapper's
    ``render_episode(start)``, ``start`` being the episode step at which this rollout's part
    of it begins). For a vetoed piece:

    - ``"zero"``: its rewards are 0, SB3's truncation bootstrap ``gamma * V(terminal_obs)``
      included;
    - ``"penalty"``: its rewards are 0 except its last step, which carries ``penalty``;
    - ``"block"``: its steps are left out of every minibatch :meth:`get` yields, so they
      reach no loss term (policy, value or entropy) and no advantage normalisation; a
      rollout with nothing approved makes :class:`~consent_gym.sb3.ConsentCallback` skip
      the update entirely (no optimizer step).

    In every mode the piece's last step is treated as terminal, so no value bootstrap
    (truncation or rollout end) adds to it. The raw rewards stay in :attr:`raw_rewards`;
    :attr:`trainable` marks the steps an update may use.

    Args:
        buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs:
            As for SB3's ``RolloutBuffer`` (SB3 passes them).
        consent: A :class:`~consent_gym.sb3.common.ConsentSettings`; or give ``judge`` and
            the other settings directly.
        judge, mode, penalty, audit_log, on_judge_error, info_key: See
            :class:`~consent_gym.sb3.common.ConsentSettings`.
    """

    def __new__(cls, buffer_size: int, observation_space: spaces.Space, *args: Any,
                **kwargs: Any) -> ConsentRolloutBuffer:
        if cls is ConsentRolloutBuffer and isinstance(observation_space, spaces.Dict):
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
        self.stats = ConsentStats()
        self.env: VecEnv | None = None
        self.env_ids: list[str] = [""] * n_envs
        # Steps of each sub-env's running episode seen so far; -1: unknown.
        self._episode_steps = np.full(n_envs, -1, dtype=np.int64)
        self._rollout_start_steps = np.full(n_envs, -1, dtype=np.int64)
        super().__init__(
            buffer_size, observation_space, action_space, device=device,
            gae_lambda=gae_lambda, gamma=gamma, n_envs=n_envs,
        )

    # ------------------------------------------------------------------ plumbing
    @property
    def mode(self) -> Mode:
        """The veto mode: ``"zero"``, ``"penalty"`` or ``"block"``."""
        return self.consent.mode

    def attach_env(self, env: VecEnv) -> None:
        """Give the buffer the training ``VecEnv`` (to render running episodes' fragments)."""
        if env.num_envs != self.n_envs:
            raise ValueError(f"env has {env.num_envs} sub-envs, the buffer {self.n_envs}.")
        self.env = env
        try:
            self.env_ids = [str(e) for e in env.get_attr("env_id")]
        except Exception:  # ids are only for the audit log
            self.env_ids = [""] * self.n_envs

    def reset(self) -> None:
        """Start a new rollout (the running episodes' step counters carry over)."""
        super().reset()
        self.raw_rewards = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self.trainable = np.ones((self.buffer_size, self.n_envs), dtype=bool)
        self.verdicts: list[tuple[Piece, Verdict, int, int]] = []
        self._records: dict[tuple[int, int], Mapping[str, Any]] = {}
        self._dones_seen = np.zeros((self.buffer_size, self.n_envs), dtype=bool)
        self._steps_seen = 0
        self._flat_trainable: np.ndarray | None = None

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
        key = self.consent.info_key
        for e, done in enumerate(np.asarray(dones, dtype=bool)):
            if done:
                self._records[(row, e)] = consent_record(infos[e], key, e)
                self._dones_seen[row, e] = True
        self._steps_seen += 1

    def add(self, obs: Any, action: np.ndarray, reward: np.ndarray, episode_start: np.ndarray,
            value: th.Tensor, log_prob: th.Tensor) -> None:
        """SB3's ``add``, also counting each running episode's steps."""
        starts = np.asarray(episode_start, dtype=bool).reshape(self.n_envs)
        self._episode_steps[starts] = 0
        if self.pos == 0:
            self._rollout_start_steps = self._episode_steps.copy()
        known = self._episode_steps >= 0
        self._episode_steps[known] += 1
        super().add(obs, action, reward, episode_start, value, log_prob)

    # ------------------------------------------------------------------ the veto
    def _pieces(self, dones: np.ndarray) -> list[tuple[Piece, int, int]]:
        """Each episode piece of the rollout with its first and last row."""
        n = self.buffer_size
        pieces: list[tuple[Piece, int, int]] = []
        running: list[tuple[int, int]] = []  # (env, first row) of unfinished last pieces
        for e in range(self.n_envs):
            first = 0
            for row in range(n):
                ends_here = self._dones_seen[row, e]
                if row < n - 1 and bool(self.episode_starts[row + 1, e]) != ends_here:
                    raise RuntimeError(
                        f"sub-env {e}: episode boundaries from infos and from SB3 disagree "
                        f"at row {row}; is ConsentCallback attached to this model?"
                    )
                if ends_here:
                    record = self._records[(row, e)]
                    length = int(record.get("length", row - first + 1))
                    steps = row - first + 1
                    if first == 0 and self._rollout_start_steps[e] >= 0:
                        expected = int(self._rollout_start_steps[e]) + steps
                        if length != expected:
                            raise RuntimeError(
                                f"sub-env {e}: ConsentWrapper recorded a {length}-step episode "
                                f"where SB3 stepped {expected}; ConsentWrapper must wrap each "
                                f"sub-env directly (no wrapper outside it may reset or end "
                                f"episodes)."
                            )
                    pieces.append((
                        Piece(e, str(record["text"]), int(record.get("episode_index", -1)),
                              start=length - steps, steps=steps, finished=True),
                        first, row,
                    ))
                    first = row + 1
            if first < n:
                if bool(dones[e]):
                    raise RuntimeError(_NO_CALLBACK.format(seen=self._steps_seen, n=n))
                running.append((e, first))
        if running:
            if self.env is None:
                raise RuntimeError(
                    "ConsentRolloutBuffer has no env to render running episodes from: "
                    "train with callback=consent_gym.sb3.ConsentCallback()."
                )
            for e, first in running:
                if first > 0:
                    start = 0
                elif self._rollout_start_steps[e] >= 0:
                    start = int(self._rollout_start_steps[e])
                else:
                    warnings.warn(
                        f"sub-env {e}: the episode began before this buffer saw it; its "
                        f"fragment is judged from the episode's first step.", stacklevel=3,
                    )
                    start = 0
                text = self.env.env_method("render_episode", start, indices=[e])[0]
                index = int(self.env.get_attr("episode_count", indices=[e])[0])
                pieces.append((
                    Piece(e, str(text), index, start=start, steps=n - first, finished=False),
                    first, n - 1,
                ))
        return pieces

    def judge_rollout(self, dones: np.ndarray) -> np.ndarray:
        """Judge the rollout in one call and apply the veto; returns the dones for GAE.

        Called by :meth:`compute_returns_and_advantage`; a vetoed running piece gets
        ``done=True`` so the rollout-end value bootstrap does not reach it.
        """
        if self._steps_seen != self.buffer_size:
            raise RuntimeError(_NO_CALLBACK.format(seen=self._steps_seen, n=self.buffer_size))
        self.raw_rewards = self.rewards.copy()
        located = self._pieces(dones)
        verdicts = judge_pieces(
            self.consent, [p for p, _, _ in located], self.stats, env_id=self.env_ids,
            learner=f"sb3-rollout:{self.mode}",
        )
        gae_dones = np.asarray(dones, dtype=np.float32).copy()
        for (piece, first, last), verdict in zip(located, verdicts, strict=True):
            self.verdicts.append((piece, verdict, first, last))
            if verdict.approved:
                continue
            e = piece.env_index
            self.rewards[first : last + 1, e] = vetoed_rewards(
                self.rewards[first : last + 1, e], self.mode, self.consent.penalty
            )
            if last == self.buffer_size - 1:
                gae_dones[e] = 1.0  # vetoed: no rollout-end bootstrap either
            if self.mode == "block":
                self.trainable[first : last + 1, e] = False
        return gae_dones

    def compute_returns_and_advantage(self, last_values: th.Tensor, dones: np.ndarray) -> None:
        """Judge and veto (:meth:`judge_rollout`), then SB3's GAE on the edited rollout."""
        gae_dones = self.judge_rollout(dones)
        super().compute_returns_and_advantage(last_values, gae_dones)

    # ------------------------------------------------------------------ sampling
    @property
    def n_trainable(self) -> int:
        """Steps of this rollout an update may use (all of them unless ``"block"``)."""
        return int(self.trainable.sum())

    def _prepare_flat(self) -> None:
        # Mirrors RolloutBuffer.get / DictRolloutBuffer.get exactly.
        if isinstance(self.observations, dict):
            for key, obs in self.observations.items():
                self.observations[key] = self.swap_and_flatten(obs)
            names = ["actions", "values", "log_probs", "advantages", "returns"]
        else:
            names = ["observations", "actions", "values", "log_probs", "advantages", "returns"]
        for name in names:
            self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
        self.generator_ready = True

    def get(self, batch_size: int | None = None) -> Generator[Any, None, None]:
        """Minibatches over the approved steps only (all steps unless ``"block"``).

        The permutation is drawn exactly as SB3 draws it and the vetoed indices are then
        dropped, so with nothing vetoed the minibatches equal plain SB3's, bit for bit.
        In ``"block"`` mode advantage normalisation thus runs over approved steps only; a
        rollout with no approved step yields nothing (the callback skips that update).
        """
        assert self.full, ""
        total = self.buffer_size * self.n_envs
        indices = np.random.permutation(total)
        if not self.generator_ready:
            self._prepare_flat()
        if self._flat_trainable is None:
            self._flat_trainable = self.trainable.swapaxes(0, 1).reshape(total)
        keep = indices[self._flat_trainable[indices]]
        if batch_size is None:
            batch_size = total
        start = 0
        while start < len(keep):
            yield self._get_samples(keep[start : start + batch_size])
            start += batch_size


class ConsentDictRolloutBuffer(ConsentRolloutBuffer, DictRolloutBuffer):
    """:class:`ConsentRolloutBuffer` for ``Dict`` observation spaces.

    ``ConsentRolloutBuffer(...)`` returns one automatically when the space is a ``Dict``.
    """


__all__ = ["ConsentDictRolloutBuffer", "ConsentRolloutBuffer"]
