"""Consent for any on-policy training loop: judge a rollout's episodes before the update.

:class:`RolloutConsent` is the library-agnostic learner integration (the SB3 rollout buffer
is built on it). A loop collects its rollout as usual, with every sub-env wrapped in
:class:`~consent_gym.ConsentRecorder`; it hands each step's ``infos`` to
:meth:`RolloutConsent.record_step`, and at the rollout's end gives its arrays to
:meth:`RolloutConsent.process` *instead of* computing advantages itself. What comes back
is the flat batch the update may use, with GAE advantages and returns:

- every episode is judged once, whole, through the decision step
  (:func:`consent_gym.gate.decide`), in one batch per rollout;
- an approved episode's steps are in the batch as they happened; a vetoed one's with
  rewards 0 (``"zero"``), or 0 and ``penalty`` at its last step (``"penalty"``), or not
  at all (``"block"``); its last step is terminal, so no value bootstrap survives;
- the steps of an episode still running at the rollout's end are *held back*: they are in
  no batch until the episode ends and is judged, and then join the batch of the rollout
  it ends in (their values and log-probabilities are those recorded when they were
  collected: one or more updates old). So no reward of a vetoed episode ever reaches an
  update, however long the episode. ``max_carry_steps`` bounds the memory: beyond it
  the oldest held-back steps of an episode are dropped from training (still judged as
  part of the episode's text) and counted in ``stats.dropped_unjudged_steps``.

Arrays may be NumPy arrays or torch tensors (returned as the same kind, on the same
device), shaped ``[T, N, ...]`` (T steps of N sub-envs).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from consent_gym.gate import (
    ConsentSettings,
    ConsentStats,
    Decision,
    Mode,
    Piece,
    decide,
    submit_to_pipeline,
)
from consent_gym.judges.base import Judge

_NOT_RECORDED = (
    "sub-env {e} ended an episode at step {t} without info[{key!r}]: wrap every sub-env in "
    "consent_gym.ConsentRecorder (e.g. gymnasium.make_vec(id, n, vectorization_mode='sync', "
    "wrappers=[ConsentRecorder])) and pass each step's infos to record_step()."
)


def sub_env_info(infos: Any, i: int) -> Mapping[str, Any]:
    """Sub-env ``i``'s ``info``: from a list of dicts (SB3) or a Gymnasium vector info dict.

    Gymnasium's vector envs merge per-env infos into one dict of arrays with ``_key``
    masks (nested dicts recursively); this takes them apart again.

    Example:
        >>> sub_env_info({"x": np.array([1, 2]), "_x": np.array([False, True])}, 1)
        {'x': np.int64(2)}
        >>> sub_env_info([{"a": 1}, {"a": 2}], 0)
        {'a': 1}
    """
    if isinstance(infos, Mapping):
        out: dict[str, Any] = {}
        for key, value in infos.items():
            if key.startswith("_"):
                continue
            mask = infos.get(f"_{key}")
            if mask is not None and mask[i]:
                out[key] = sub_env_info(value, i) if isinstance(value, Mapping) else value[i]
        return out
    if isinstance(infos, Sequence):
        return infos[i]
    raise TypeError(
        f"infos must be a list of dicts (SB3) or a Gymnasium vector info dict, got "
        f"{type(infos).__name__}."
    )


@dataclass
class ConsentBatch:
    """What an update may use from one rollout (see :meth:`RolloutConsent.process`).

    Attributes:
        arrays: Each input array flattened to ``[M, ...]`` over the steps the update may
            use (sub-env by sub-env, in time order; held-back steps of earlier rollouts
            first), plus ``"advantages"``, ``"returns"`` and ``"rewards"`` (after the veto).
        trainable: ``[T, N]`` bool: which of *this* rollout's steps are in the batch.
        decisions: The decision on each episode judged in this rollout.
        held_back: Steps held back for later rollouts (episodes still running).
    """

    arrays: dict[str, Any]
    trainable: np.ndarray
    decisions: list[Decision]
    held_back: int

    def __len__(self) -> int:
        return len(self.arrays["advantages"])


def _to_numpy(x: Any) -> tuple[np.ndarray, Any]:
    """``(array, like)``: a NumPy view of ``x`` and what to convert back to (a tensor)."""
    if isinstance(x, np.ndarray):
        return x, None
    detach = getattr(x, "detach", None)
    if callable(detach):  # a torch tensor
        return x.detach().cpu().numpy(), x
    return np.asarray(x), None


def _like(array: np.ndarray, like: Any) -> Any:
    if like is None:
        return array
    import torch

    return torch.as_tensor(array, dtype=like.dtype, device=like.device)


def gae(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """GAE(lambda) advantages of ONE finished episode (its last step is terminal).

    Example:
        >>> gae(np.array([1.0, 1.0]), np.array([0.5, 0.5]), gamma=1.0, lam=1.0).tolist()
        [1.5, 0.5]
    """
    adv = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        next_value = values[t + 1] if t + 1 < len(rewards) else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + (gamma * lam * running if t + 1 < len(rewards) else 0.0)
        adv[t] = running
    return adv


class RolloutConsent:
    """Judges the episodes of each rollout and returns only what the update may use.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge`, or a
            :class:`~consent_gym.gate.ConsentSettings`.
        num_envs: Sub-envs in the rollout (``N``).
        gamma, gae_lambda: For the advantages (as the learner would use them).
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"`` (with a judge).
        penalty: What a vetoed episode's rewards sum to in ``"penalty"`` mode.
        max_carry_steps: Most held-back steps kept per running episode (``None``: all;
            the env's time limit bounds them).
        **settings: ``audit_log``, ``on_judge_error``, ``info_key``, ``pipeline`` for
            :class:`~consent_gym.gate.ConsentSettings`. With ``pipeline=True`` each
            episode is sent to the judge as :meth:`record_step` sees it end, and
            :meth:`process` awaits only the verdicts still in flight.

    Example (a loop over ``T`` steps of ``N`` sub-envs, CleanRL-style)::

        consent = RolloutConsent(judge, N, gamma=0.99, gae_lambda=0.95)
        for t in range(T):
            ...; next_obs, reward, term, trunc, infos = envs.step(action)
            consent.record_step(t, np.logical_or(term, trunc), infos)
        batch = consent.process({"obs": obs, "actions": actions, "logprobs": logprobs},
                                rewards=rewards, values=values, starts=dones)
        # train on batch.arrays["obs"], ["advantages"], ["returns"], ... (M steps)
    """

    def __init__(
        self,
        judge: Judge | ConsentSettings,
        num_envs: int,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        mode: Mode = "zero",
        penalty: float = -100.0,
        *,
        max_carry_steps: int | None = None,
        stats: ConsentStats | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(judge, ConsentSettings):
            if settings:
                raise TypeError(f"pass {sorted(settings)} in the ConsentSettings, not here.")
            self.settings = judge
        else:
            self.settings = ConsentSettings(judge, mode, penalty, **settings)
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}.")
        for name, value in (("gamma", gamma), ("gae_lambda", gae_lambda)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}.")
        if max_carry_steps is not None and (not isinstance(max_carry_steps, int)
                                            or max_carry_steps < 0):
            raise ValueError(f"max_carry_steps must be None or an int >= 0, got "
                             f"{max_carry_steps!r}.")
        self.num_envs = num_envs
        self.gamma, self.gae_lambda = float(gamma), float(gae_lambda)
        self.max_carry_steps = max_carry_steps
        self.stats = stats if stats is not None else ConsentStats()
        self.learner = "rollout"
        # Per sub-env: held-back rows of its running episode, name -> list of rows.
        self._carry: list[dict[str, list[Any]]] = [{} for _ in range(num_envs)]
        self._carried: list[int] = [0] * num_envs
        self._records: dict[tuple[int, int], Mapping[str, Any]] = {}
        self._warned_carry = False  # the max_carry_steps warning is given once

    @property
    def held_back_steps(self) -> int:
        """Steps of running episodes waiting for their episode's verdict."""
        return sum(self._carried)

    def record_step(self, t: int, dones: Any, infos: Any) -> None:
        """Note which sub-envs ended an episode at rollout step ``t`` and their records."""
        done = np.asarray(_to_numpy(dones)[0], dtype=bool).reshape(self.num_envs)
        key = self.settings.info_key
        finished: list[str] = []
        for e in np.flatnonzero(done):
            info = sub_env_info(infos, int(e))
            record = info.get(key)
            final_info = info.get("final_info")
            if record is None and isinstance(final_info, Mapping):
                # Gymnasium's SAME_STEP autoreset: the ended episode's info is under
                # "final_info", the top level holds the new episode's reset info.
                record = final_info.get(key)
            if not isinstance(record, Mapping) or "text" not in record:
                raise RuntimeError(_NOT_RECORDED.format(e=int(e), t=t, key=key))
            if not record.get("pending", False):
                raise RuntimeError(
                    f"sub-env {int(e)}: its episode was already judged by ConsentWrapper; "
                    f"with a learner integration use consent_gym.ConsentRecorder instead."
                )
            self._records[(t, int(e))] = record
            finished.append(str(record["text"]))
        submit_to_pipeline(self.settings, finished)  # judged ahead when pipelining is on

    def process(
        self,
        arrays: Mapping[str, Any],
        *,
        rewards: Any,
        values: Any,
        starts: Any,
        ends: Any | None = None,
        penalty: float | None = None,
    ) -> ConsentBatch:
        """Judge the rollout's finished episodes in one call and build the update's batch.

        Args:
            arrays: Name -> ``[T, N, ...]`` array to pass through (observations, actions,
                log-probabilities, ... whatever the update reads).
            rewards: ``[T, N]`` the env's rewards (SB3: with its truncation bootstrap).
            values: ``[T, N]`` the value estimates recorded with each step.
            starts: ``[T, N]`` whether step ``t`` began a new episode (SB3's
                ``episode_starts``; CleanRL's ``dones`` array).
            ends: ``[T, N]`` whether step ``t`` ended its episode; default: the steps
                :meth:`record_step` saw end.
            penalty: The penalty in the units of ``rewards`` when they differ from the
                env's (e.g. normalised rewards); default: the settings' penalty.

        Raises:
            RuntimeError: episode ends that disagree with ``starts``, or records that do
                not match the steps, each naming the fix.
        """
        rew, like_rew = _to_numpy(rewards)
        val, _ = _to_numpy(values)
        rew_dtype = rew.dtype
        T, N = rew.shape[:2]
        if self.num_envs != N:
            raise ValueError(f"rewards has {N} sub-envs, RolloutConsent {self.num_envs}.")
        rew = rew.reshape(T, N).astype(np.float64)
        val = val.reshape(T, N).astype(np.float64)
        start = np.asarray(_to_numpy(starts)[0], dtype=bool).reshape(T, N)
        end = np.zeros((T, N), dtype=bool)
        for t, e in self._records:
            if t >= T:
                raise RuntimeError(f"record_step saw step {t} but the rollout has {T} steps.")
            end[t, e] = True
        if ends is not None:
            given = np.asarray(_to_numpy(ends)[0], dtype=bool).reshape(T, N)
            if not np.array_equal(given, end):
                t, e = np.argwhere(given != end)[0]
                raise RuntimeError(_NOT_RECORDED.format(e=int(e), t=int(t),
                                                        key=self.settings.info_key))
        inputs = {name: _to_numpy(a) for name, a in arrays.items()}
        columns = {name: a for name, (a, _) in inputs.items()}
        columns["_rewards"], columns["_values"] = rew, val
        episodes, pieces = self._episodes(start, end, columns)
        decisions = decide(self.settings, pieces, stats=self.stats, learner=self.learner)
        self._records = {}
        trainable = np.zeros((T, N), dtype=bool)
        out: dict[str, list[Any]] = {name: [] for name in columns}
        out["advantages"], out["returns"] = [], []
        for (e, first, last, carried), decision in zip(episodes, decisions, strict=True):
            if not decision.approved and self.settings.mode == "block":
                continue
            rows = {name: [*carried.get(name, []), *columns[name][first:last + 1, e]]
                    for name in columns}
            r = np.asarray(rows["_rewards"], dtype=np.float64)
            if not decision.approved:
                r = np.zeros_like(r)
                if self.settings.mode == "penalty" and len(r):
                    r[-1] = self.settings.penalty if penalty is None else penalty
            v = np.asarray(rows["_values"], dtype=np.float64)
            adv = gae(r, v, self.gamma, self.gae_lambda)
            rows["_rewards"] = list(r)
            for name, seq in rows.items():
                out[name].extend(seq)
            out["advantages"].extend(adv)
            out["returns"].extend(adv + v)
            trainable[first:last + 1, e] = True
        like_val = _to_numpy(values)[1]
        float_dtype = rew_dtype if rew_dtype.kind == "f" else np.dtype(np.float32)
        kinds = {name: (a.dtype, a.shape[2:], like) for name, (a, like) in inputs.items()}
        kinds["_rewards"] = (float_dtype, (), like_rew)
        kinds["_values"] = (float_dtype, (), like_val)
        kinds["advantages"] = kinds["returns"] = (float_dtype, (), like_rew)
        result: dict[str, Any] = {}
        for name, seq in out.items():
            dtype, shape, like = kinds[name]
            stacked = np.stack(seq).astype(dtype, copy=False) if seq else np.zeros(
                (0, *shape), dtype=dtype)
            result[{"_rewards": "rewards", "_values": "values"}.get(name, name)] = _like(
                stacked, like)
        return ConsentBatch(result, trainable, decisions, self.held_back_steps)

    def _episodes(
        self, start: np.ndarray, end: np.ndarray, columns: Mapping[str, np.ndarray]
    ) -> tuple[list[tuple[int, int, int, dict[str, list[Any]]]], list[Piece]]:
        """Finished episodes ``(env, first row, last row, held-back rows)`` and their
        pieces; the rows of running episodes are held back for the next rollout."""
        T, N = end.shape
        episodes: list[tuple[int, int, int, dict[str, list[Any]]]] = []
        pieces: list[Piece] = []
        for e in range(N):
            first = 0
            if start[0, e] and self._carried[e]:
                # The env was reset before the held-back episode ended (a new learn()):
                # it will never be judged, so its steps are never trained.
                self.stats.dropped_unjudged_steps += self._carried[e]
                self._carry[e], self._carried[e] = {}, 0
            for t in range(T):
                if t < T - 1 and bool(start[t + 1, e]) != bool(end[t, e]):
                    raise RuntimeError(
                        f"sub-env {e}: episode ends from the recorder's infos and the "
                        f"rollout's episode starts disagree at step {t}; call record_step() "
                        f"once per env step with that step's dones and infos."
                    )
                if not end[t, e]:
                    continue
                record = self._records[(t, e)]
                carried = self._carry[e] if first == 0 else {}
                known = t - first + 1 + (self._carried[e] if first == 0 else 0)
                length = int(record.get("length", known))
                if length < known:
                    raise RuntimeError(
                        f"sub-env {e}: ConsentRecorder recorded a {length}-step episode where "
                        f"the learner stepped {known}; ConsentRecorder must wrap each sub-env "
                        f"directly (no wrapper outside it may reset or end episodes), and a "
                        f"Gymnasium vector env must autoreset in the same step (NEXT_STEP "
                        f"adds a reset step that belongs to no episode): "
                        f"gymnasium.make_vec(..., vector_kwargs={{'autoreset_mode': "
                        f"gymnasium.vector.AutoresetMode.SAME_STEP}})."
                    )
                if first == 0:
                    self._carry[e], self._carried[e] = {}, 0
                pieces.append(Piece(
                    str(record["text"]), float(record.get("episode_return", 0.0)),
                    str(record.get("env_id", "")), int(record.get("episode_index", -1)),
                    env_index=e,
                    start=length - known, steps=known, finished=True,
                ))
                episodes.append((e, first, t, carried))
                first = t + 1
            if first < T:  # a running episode: hold its rows back until it ends
                carry = self._carry[e] if first == 0 else {}
                for name, column in columns.items():
                    carry.setdefault(name, []).extend(column[first:, e])
                self._carry[e] = carry
                self._carried[e] = len(carry["_rewards"])
                limit = self.max_carry_steps
                if limit is not None and self._carried[e] > limit:
                    drop = self._carried[e] - limit
                    for rows in carry.values():
                        del rows[:drop]
                    self._carried[e] = limit
                    self.stats.dropped_unjudged_steps += drop
                    if drop and not self._warned_carry:
                        self._warned_carry = True
                        warnings.warn(
                            f"sub-env {e}: an episode ran past max_carry_steps="
                            f"{self.max_carry_steps}; its oldest steps are judged but never "
                            f"trained.", stacklevel=3,
                        )
        return episodes, pieces
