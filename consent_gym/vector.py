"""``ConsentVectorWrapper``: consent gating for a Gymnasium vector env, one judge call per step.

Wrapping each sub-env with :class:`~consent_gym.ConsentWrapper` works everywhere but asks
the judge about one episode at a time. This wrapper sits on the vector env instead: the
episodes that end on the same step are judged in ONE batch, which is what makes a
batched LLM judge fast.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import iterate

from consent_gym.audit import AuditLog
from consent_gym.gate import WRAPPER_MODES, ConsentSettings, ConsentStats, Mode, Piece, decide
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.render.base import Renderer, check_renderer, renderer_for
from consent_gym.render.generic import GenericRenderer
from consent_gym.rollout import sub_env_info
from consent_gym.trajectory import StepRow, Trajectory, events_from_info
from consent_gym.wrapper import (
    RewardTiming,
    check_reward_timing,
    consent_record,
    last_step_reward,
)


class ConsentVectorWrapper(VectorWrapper, gym.utils.RecordConstructorArgs):
    """Consent gating for every sub-env of a vector env, one judge call per step.

    Same semantics as :class:`~consent_gym.ConsentWrapper` (``mode="zero"`` or
    ``"penalty"``; ``reward_timing="as_earned"``, the default, or ``"deferred"``), for all
    sub-envs of a vector env, with the episodes that end together judged in a single
    ``judge_batch`` call. Every Gymnasium autoreset mode is supported: the reset step that
    ``NEXT_STEP`` inserts after an episode end is not recorded and pays 0; a vector env
    that declares ``NEXT_STEP`` but pays a reward (or ends an episode) on that step
    actually resets on the same step, and is reported with an error naming the fix.

    At a step where sub-env ``i`` ends an episode, ``infos["consent"][i]`` holds the same
    record as the single-env wrapper's ``info["consent"]`` and ``infos["_consent"][i]`` is
    true.

    Args:
        env: A Gymnasium ``VectorEnv`` (e.g. from ``gymnasium.make_vec``).
        judge: Any :class:`~consent_gym.judges.Judge`; ``None`` loads the default LLM judge
            lazily.
        mode: ``"zero"`` or ``"penalty"``.
        renderer: Default: the renderer of the first sub-env (sync vector envs), or of an
            env made from ``env.spec``, or :class:`~consent_gym.render.GenericRenderer`.
        penalty: What a vetoed episode's rewards sum to when ``mode="penalty"``.
        reward_timing: ``"as_earned"`` (default) or ``"deferred"``; see
            :class:`~consent_gym.ConsentWrapper`.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog`.
        on_judge_error: ``"veto"`` (default), ``"raise"`` or ``"approve"`` (unsafe opt-in).
        info_key: The ``infos`` key for the consent records.
        actor: Optional explorer label passed to renderers.

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> from consent_gym.judges import RuleJudge
        >>> envs = ConsentVectorWrapper(gym.make_vec("CartPole-v1", num_envs=3),
        ...                             judge=RuleJudge(lambda text: True, name="yes"),
        ...                             reward_timing="deferred")
        >>> _ = envs.reset(seed=0)
        >>> released, steps_ended = np.zeros(3), np.zeros(3)
        >>> for _ in range(100):
        ...     _, rewards, _, _, infos = envs.step(np.zeros(3, dtype=int))
        ...     released += rewards
        ...     for i in np.flatnonzero(infos.get("_consent", np.zeros(3, dtype=bool))):
        ...         steps_ended[i] += infos["consent"][i]["length"]
        >>> # CartPole pays 1 per step: each approved episode released exactly its length
        >>> released.tolist() == steps_ended.tolist() and bool(steps_ended.min() > 0)
        True
        >>> envs.judge_calls < envs.episodes_judged  # episodes ending together share a call
        True
    """

    def __init__(
        self,
        env: VectorEnv,
        judge: Judge | None = None,
        mode: Mode = "zero",
        renderer: Renderer | None = None,
        penalty: float = -100.0,
        *,
        reward_timing: RewardTiming = "as_earned",
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
        actor: str | None = None,
    ) -> None:
        if not isinstance(env, VectorEnv):
            raise TypeError(
                f"env must be a gymnasium.vector.VectorEnv, got {type(env).__name__}; for a "
                f"single env use consent_gym.ConsentWrapper."
            )
        check_reward_timing(reward_timing)
        settings = ConsentSettings(
            judge, mode, penalty, audit_log, on_judge_error, info_key, modes=WRAPPER_MODES
        )
        if renderer is not None:
            check_renderer(renderer)
        gym.utils.RecordConstructorArgs.__init__(
            self, judge=judge, mode=mode, renderer=renderer, penalty=penalty,
            reward_timing=reward_timing, audit_log=audit_log, on_judge_error=on_judge_error,
            info_key=info_key, actor=actor, _disable_deepcopy=True,
        )
        VectorWrapper.__init__(self, env)
        self.settings = settings
        self.reward_timing: RewardTiming = reward_timing
        self.renderer: Renderer = renderer if renderer is not None else self._default_renderer()
        self.info_key = info_key
        self.actor = actor
        self.autoreset_mode = AutoresetMode(
            env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        )
        self.env_id: str = env.spec.id if env.spec is not None else type(env).__name__
        n = self.num_envs
        # Each sub-env's running episode as plain rows (see ConsentWrapper), and its index.
        self._rows: list[list[StepRow] | None] = [None] * n
        self._episode_index = [0] * n
        self._last_obs: list[Any] = [None] * n
        self._resetting = np.zeros(n, dtype=bool)  # NEXT_STEP: the next step is a reset
        self.episode_count = 0
        #: What the decision step counted for this wrapper (judged, vetoed, judge time, ...).
        self.stats = ConsentStats()

    def _default_renderer(self) -> Renderer:
        sub_envs = getattr(self.env, "envs", None)
        if sub_envs:
            return renderer_for(sub_envs[0])
        if self.env.spec is not None:
            probe = gym.make(self.env.spec.id)
            try:
                return renderer_for(probe)
            finally:
                probe.close()
        return GenericRenderer()

    @property
    def judge(self) -> Judge:
        """The judge; the embedded default is loaded on first access when none was given."""
        if self.settings.judge is None:
            from consent_gym.judges import default_judge

            self.settings.judge = default_judge()
        return self.settings.judge

    @property
    def judge_calls(self) -> int:
        """Judge calls so far (one per step on which episodes ended)."""
        return self.stats.judge_calls

    @property
    def episodes_judged(self) -> int:
        """Episodes judged so far."""
        return self.stats.judged

    @property
    def audit_log(self) -> AuditLog | None:
        """The audit log every verdict is appended to, if any."""
        return self.settings.audit_log

    @property
    def trajectories(self) -> list[Trajectory | None]:
        """Each sub-env's running episode so far (snapshots; ``None`` before a reset)."""
        return [
            None if rows is None else Trajectory.from_rows(
                self.env_id, index, list(rows), actor=self.actor
            )
            for rows, index in zip(self._rows, self._episode_index, strict=True)
        ]

    def _start_episode(self, i: int, obs: Any) -> None:
        self._rows[i] = []
        self._episode_index[i] = self.episode_count
        self.episode_count += 1
        self._last_obs[i] = obs

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (all sub-envs, or those in ``options["reset_mask"]``) and start recording."""
        mask = (options or {}).get("reset_mask")  # read first: SyncVectorEnv pops it
        obs, infos = self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]
        per_env = list(iterate(self.observation_space, obs))
        for i in range(self.num_envs):
            if mask is None or mask[i]:
                self._start_episode(i, per_env[i])
                self._resetting[i] = False
        return obs, infos

    # Arrays typed Any: gymnasium's VectorWrapper.step is generic in its array type.
    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step every sub-env; judge the episodes that ended, in one batch."""
        if any(rows is None for rows in self._rows):
            raise gym.error.ResetNeeded("ConsentVectorWrapper: call reset() before step().")
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        if not np.all(np.isfinite(rewards)):
            bad = np.flatnonzero(~np.isfinite(rewards)).tolist()
            raise ValueError(
                f"sub-envs {bad} returned non-finite rewards {rewards[bad].tolist()}; consent "
                f"gating needs finite rewards to release exact returns."
            )
        per_obs = list(iterate(self.observation_space, obs))
        per_action = list(iterate(self.action_space, actions))
        released = (
            rewards.copy() if self.reward_timing == "as_earned"
            else np.zeros(self.num_envs, dtype=np.float64)
        )
        finished: list[int] = []
        same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        for i in range(self.num_envs):
            if self._resetting[i]:  # NEXT_STEP's reset step: not part of any episode
                if rewards[i] != 0.0 or terminations[i] or truncations[i]:
                    raise ValueError(
                        f"sub-env {i} declares autoreset_mode NEXT_STEP (the step after an "
                        f"episode ends only resets) but paid reward {rewards[i]!r} or ended "
                        f"an episode on that step: it resets in the same step. Set "
                        f"metadata['autoreset_mode'] = gymnasium.vector.AutoresetMode."
                        f"SAME_STEP on the vector env, so episodes are recorded aligned."
                    )
                self._resetting[i] = False
                released[i] = 0.0
                self._start_episode(i, per_obs[i])
                continue
            done = bool(terminations[i] or truncations[i])
            info_i = sub_env_info(infos, i)
            if done and same_step:
                info_i = info_i.get("final_info", {})
            rows = self._rows[i]
            assert rows is not None
            rows.append((self._last_obs[i], per_action[i], float(rewards[i]),
                         events_from_info(info_i), info_i))
            self._last_obs[i] = per_obs[i]
            if done:
                finished.append(i)
        if finished:
            self._judge_finished(finished, per_obs, released, infos, terminations, truncations)
        return obs, released, terminations, truncations, infos

    def _judge_finished(
        self,
        finished: list[int],
        per_obs: list[Any],
        released: np.ndarray,
        infos: dict[str, Any],
        terminations: np.ndarray,
        truncations: np.ndarray,
    ) -> None:
        if self.info_key in infos:
            raise ValueError(
                f"infos already has the key {self.info_key!r}; pass another info_key= so the "
                f"env's own information is not overwritten."
            )
        done_trajectories = [
            Trajectory.from_rows(
                self.env_id, self._episode_index[i], self._rows[i] or [],
                terminated=bool(terminations[i]), truncated=bool(truncations[i]), actor=self.actor,
            )
            for i in finished
        ]
        _ = self.judge  # loads the default judge on first use
        pieces = [
            Piece(self.renderer.render(t), t.total_reward, self.env_id, t.episode_index,
                  env_index=i, steps=len(t))
            for i, t in zip(finished, done_trajectories, strict=True)
        ]
        decisions = decide(self.settings, pieces, stats=self.stats, learner="vector-wrapper")
        records = np.full(self.num_envs, None, dtype=object)
        mask = np.zeros(self.num_envs, dtype=bool)
        for i, trajectory, decision in zip(finished, done_trajectories, decisions, strict=True):
            released[i] = last_step_reward(decision, trajectory, self.reward_timing)
            records[i], mask[i] = consent_record(decision, trajectory), True
            if self.autoreset_mode == AutoresetMode.NEXT_STEP:
                self._resetting[i] = True
            elif self.autoreset_mode == AutoresetMode.SAME_STEP:
                self._start_episode(i, per_obs[i])  # obs is already the new episode's first
            else:
                self._rows[i] = []  # DISABLED: the caller resets it (reset_mask) before use
                self._episode_index[i] = self.episode_count
        infos[self.info_key] = records
        infos[f"_{self.info_key}"] = mask

    def close(self, **kwargs: Any) -> None:
        """Close the vector env and the audit log this wrapper opened."""
        self.settings.close()
        super().close(**kwargs)
