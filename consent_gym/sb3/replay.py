"""Off-policy (DQN, SAC, TD3): a replay buffer that stores only judged transitions.

A transition can be sampled only once it is in the buffer's storage, and it gets there only
after its whole episode has been judged: transitions of running episodes wait in a per-env
staging area; at the episode's end the episode waits for the next judge call (one batch per
rollout, made by :class:`~consent_gym.sb3.ConsentCallback` at ``on_rollout_end`` and, as a
safety net, by :meth:`ConsentReplayBuffer.sample`), and is then committed as recorded
(approved), with its rewards edited (``"zero"``/``"penalty"``), or never (``"block"``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, NStepReplayBuffer, ReplayBuffer
from stable_baselines3.common.vec_env import VecNormalize

from consent_gym.audit import AuditLog
from consent_gym.gate import (
    ConsentSettings,
    ConsentStats,
    Mode,
    Piece,
    decide,
    submit_to_pipeline,
    vetoed_rewards,
)
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.sb3.common import as_settings, pending_record

# (obs, next_obs, action, reward, done, timeout) of one sub-env's transition
Transition = tuple[Any, Any, np.ndarray, float, bool, bool]


class ConsentReplayBuffer(ReplayBuffer):
    """SB3 ``ReplayBuffer`` whose samples only ever contain judged transitions.

    Pass it as ``replay_buffer_class=`` to DQN, SAC or TD3 (most simply through
    :func:`~consent_gym.sb3.consent_kwargs` with ``algo=DQN``) and train with
    :class:`~consent_gym.sb3.ConsentCallback`. With a ``Dict`` observation space the
    constructor returns a :class:`ConsentDictReplayBuffer`.

    Each episode is judged once, on its whole text (the wrapper's ``info["consent"]``) after
    it ends, together with every other episode that ended in the same rollout. Then:

    - approved: its transitions are committed as recorded;
    - ``"zero"``: committed with reward 0, the last transition terminal (``done=1``,
      timeout cleared, so no ``gamma * Q(terminal_obs)`` bootstrap either);
    - ``"penalty"``: as ``"zero"``, but the last transition's reward is ``penalty``;
    - ``"block"``: never committed, so never sampled.

    A transition becomes sampleable only when its episode has ended and been judged, so an
    episode longer than the run never reaches the buffer. Storage is one ring of
    ``buffer_size`` transitions (SB3 splits it into ``buffer_size // n_envs`` rows of
    ``n_envs``; here each sub-env's episodes are committed whole, in turn), so n-step
    returns (``n_steps > 1``, as SB3's ``NStepReplayBuffer`` computes them, with the
    algorithm's ``gamma``) look ahead within one episode only. ``optimize_memory_usage``
    and Hindsight Experience Replay are not supported (relabelled goals would be
    transitions nobody judged).

    Rewards are stored raw (SB3 passes the un-normalised ones); under ``VecNormalize``
    SB3 normalises them, the penalty included, when sampling, as the rollout buffer does
    on-policy.

    Args:
        buffer_size, observation_space, action_space, device, n_envs,
        optimize_memory_usage, handle_timeout_termination: As for SB3's ``ReplayBuffer``.
        consent: A :class:`~consent_gym.sb3.common.ConsentSettings`; or give ``judge`` and
            the other settings directly.
        judge, mode, penalty, audit_log, on_judge_error, info_key: See
            :class:`~consent_gym.gate.ConsentSettings`.
        n_steps, gamma: n-step returns (set from the algorithm by the callback).
        stats: Where decisions are counted (default: a fresh ``ConsentStats``).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> ConsentReplayBuffer:
        # Called without arguments when unpickling (save/load_replay_buffer, deepcopy).
        space = args[1] if len(args) > 1 else kwargs.get("observation_space")
        if cls is ConsentReplayBuffer and isinstance(space, spaces.Dict):
            cls = ConsentDictReplayBuffer
        return super().__new__(cls)

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        *,
        consent: ConsentSettings | None = None,
        judge: Judge | None = None,
        mode: Mode | None = None,
        penalty: float | None = None,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError | None = None,
        info_key: str | None = None,
        n_steps: int = 1,
        gamma: float = 0.99,
        stats: ConsentStats | None = None,
    ) -> None:
        if consent is None and judge is None:
            raise TypeError(
                "ConsentReplayBuffer needs a judge: DQN('MlpPolicy', env, "
                "**consent_gym.sb3.consent_kwargs(judge, mode='block', algo=DQN))."
            )
        refuse_foreign_buffer(type(self))
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}.")
        if n_steps > 1 and isinstance(observation_space, spaces.Dict):
            raise ValueError(
                "n-step returns are not supported for Dict observation spaces (nor by SB3's "
                "NStepReplayBuffer); use n_steps=1."
            )
        if optimize_memory_usage:
            raise ValueError(
                "ConsentReplayBuffer does not support optimize_memory_usage=True "
                "(episodes are committed whole, out of step order)."
            )
        self.consent = as_settings(
            consent, judge=judge, mode=mode, penalty=penalty, audit_log=audit_log,
            on_judge_error=on_judge_error, info_key=info_key,
        )
        self.stats = stats if stats is not None else ConsentStats()
        self.source_n_envs = n_envs
        self.n_steps, self.gamma = n_steps, float(gamma)
        self._staged: list[list[Transition]] = [[] for _ in range(n_envs)]
        self._pending: list[tuple[int, Mapping[str, Any], list[Transition]]] = []
        self.committed_steps = 0
        self._warned_long = False
        # One ring of buffer_size transitions: SB3 code only reads pos/full/size().
        super().__init__(
            buffer_size, observation_space, action_space, device=device,
            n_envs=1, optimize_memory_usage=False,
            handle_timeout_termination=handle_timeout_termination,
        )

    @property
    def mode(self) -> Mode:
        """The veto mode: ``"zero"``, ``"penalty"`` or ``"block"``."""
        return self.consent.mode

    @property
    def staged_steps(self) -> int:
        """Transitions of running episodes, not yet judged."""
        return sum(len(s) for s in self._staged)

    @property
    def pending_episodes(self) -> int:
        """Ended episodes waiting for the next judge call."""
        return len(self._pending)

    def attach_env(self, env: Any, vec_normalize: VecNormalize | None = None) -> None:
        """Called by :class:`~consent_gym.sb3.ConsentCallback` at the start of training."""
        if env.num_envs != self.source_n_envs:
            raise ValueError(
                f"env has {env.num_envs} sub-envs, the buffer {self.source_n_envs}."
            )

    @staticmethod
    def _row(x: Any, e: int) -> Any:
        if isinstance(x, dict):
            return {k: np.array(v[e]) for k, v in x.items()}
        return np.array(x[e])

    def add(
        self,
        obs: Any,
        next_obs: Any,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """Stage one step of every sub-env; an ended episode waits for the judge."""
        n = self.source_n_envs
        actions = np.asarray(action).reshape((n, self.action_dim))
        rewards = np.asarray(reward, dtype=np.float64).reshape(n)
        dones = np.asarray(done, dtype=bool).reshape(n)
        finished: list[str] = []
        for e in range(n):
            timeout = bool(infos[e].get("TimeLimit.truncated", False))
            self._staged[e].append((
                self._row(obs, e), self._row(next_obs, e), actions[e].copy(),
                float(rewards[e]), bool(dones[e]), timeout,
            ))
            if dones[e]:
                record = pending_record(infos[e], self.consent.info_key, e)
                transitions, self._staged[e] = self._staged[e], []
                length = int(record.get("length", len(transitions)))
                if len(transitions) > length:
                    # The oldest ones belong to an episode that was reset before it ended
                    # (e.g. learn(reset_num_timesteps=True)); never judged, never used.
                    extra = len(transitions) - length
                    self.stats.dropped_unjudged_steps += extra
                    transitions = transitions[extra:]
                self._pending.append((e, record, transitions))
                finished.append(str(record["text"]))
            elif len(self._staged[e]) > self.buffer_size and not self._warned_long:
                self._warned_long = True
                warnings.warn(
                    f"sub-env {e} has run {len(self._staged[e])} steps without ending an "
                    f"episode; its transitions reach the replay buffer only once it ends "
                    f"and is judged.", stacklevel=2,
                )
        submit_to_pipeline(self.consent, finished)  # judged ahead when pipelining is on

    def flush(self) -> None:
        """Judge every ended, unjudged episode in one call and commit the allowed ones."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        pieces = [
            Piece(str(rec["text"]), float(rec.get("episode_return", 0.0)),
                  str(rec.get("env_id", "")), int(rec.get("episode_index", -1)), env_index=e,
                  start=int(rec.get("length", len(tr))) - len(tr), steps=len(tr), finished=True)
            for e, rec, tr in pending
        ]
        decisions = decide(self.consent, pieces, stats=self.stats,
                           learner=f"sb3-replay:{self.mode}")
        for (_, _, transitions), decision in zip(pending, decisions, strict=True):
            if decision.approved:
                self._commit(transitions)
            elif self.mode != "block":
                rewards = vetoed_rewards(
                    np.array([t[3] for t in transitions]), self.mode, self.consent.penalty
                )
                edited = [
                    (o, no, a, float(r), d, timeout and i < len(transitions) - 1)
                    for i, ((o, no, a, _, d, timeout), r) in enumerate(
                        zip(transitions, rewards, strict=True)
                    )
                ]
                self._commit(edited)

    def _commit(self, transitions: list[Transition]) -> None:
        for obs, next_obs, action, reward, done, timeout in transitions:
            super().add(
                self._batch1(obs), self._batch1(next_obs), action[None],
                np.array([reward], dtype=np.float32), np.array([done], dtype=np.float32),
                [{"TimeLimit.truncated": timeout}],
            )
        self.committed_steps += len(transitions)

    @staticmethod
    def _batch1(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: np.asarray(v)[None] for k, v in x.items()}
        return np.asarray(x)[None]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> Any:
        # Episodes sit whole and in order in the one ring, so SB3's n-step look-ahead
        # (which stops at an episode's end) never crosses into another episode.
        if self.n_steps > 1:
            return NStepReplayBuffer._get_samples(self, batch_inds, env)  # type: ignore[arg-type]
        return super()._get_samples(batch_inds, env)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> Any:
        """Judge what is pending, then SB3's uniform sample over committed transitions."""
        self.flush()
        if self.size() == 0:
            raise RuntimeError(
                "ConsentReplayBuffer holds no approved transition yet; train with "
                "callback=consent_gym.sb3.ConsentCallback(), which skips updates until "
                "there is something to learn from."
            )
        return super().sample(batch_size, env=env)


class ConsentDictReplayBuffer(ConsentReplayBuffer, DictReplayBuffer):
    """:class:`ConsentReplayBuffer` for ``Dict`` observation spaces.

    ``ConsentReplayBuffer(...)`` returns one automatically when the space is a ``Dict``.
    """


def refuse_foreign_buffer(cls: type) -> None:
    """Raise a ``TypeError`` for a class mixing a consent buffer with HER or SB3's n-step
    buffer, naming what to use instead."""
    from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

    if issubclass(cls, HerReplayBuffer):
        raise TypeError(
            "Hindsight Experience Replay (HerReplayBuffer) cannot be consent-gated: it "
            "relabels goals after the judge read the episode, so it would train on "
            "transitions nobody judged. Train without HER."
        )
    if issubclass(cls, NStepReplayBuffer):
        raise TypeError(
            "do not mix NStepReplayBuffer into a consent buffer: ConsentReplayBuffer "
            "computes n-step returns itself; pass n_steps to the algorithm, e.g. "
            "DQN(..., n_steps=3, **consent_kwargs(judge, algo=DQN))."
        )


__all__ = ["ConsentDictReplayBuffer", "ConsentReplayBuffer", "refuse_foreign_buffer"]
