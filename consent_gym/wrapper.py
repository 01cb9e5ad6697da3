"""``ConsentWrapper``: a Gymnasium wrapper that releases an episode's reward only with consent."""

from __future__ import annotations

import os
from math import isfinite
from typing import Any, SupportsFloat

import gymnasium as gym

from consent_gym.audit import AuditLog
from consent_gym.gate import (
    ConsentGate,
    OnVeto,
    check_gate_arguments,
    episode_record,
    open_audit_log,
)
from consent_gym.judges.base import Judge, OnJudgeError, Verdict
from consent_gym.render.base import Renderer, check_renderer, renderer_for
from consent_gym.trajectory import StepRow, Trajectory, events_from_info


class ConsentWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Renders each episode as text for a frozen judge and withholds the reward of vetoed ones.

    During an episode every step is recorded (observation, action, reward, ``info["events"]``).
    At the episode's last step the trajectory is rendered to text, judged, logged, and:

    - ``on_veto="zero"``: rewards are withheld (0) during the episode and the episode's
      total is released at its last step if approved, else 0.
    - ``on_veto="penalty"``: as ``"zero"``, but a vetoed episode's last step carries
      ``penalty`` (a large negative number, a finite stand-in for minus infinity).

    Deferring rewards keeps each episode's *return* exact but moves all credit to the last
    step: with discounting, early actions see ``gamma**T`` of it, so learning is slower than
    with the env's own reward timing. For undelayed rewards with the same guarantee, train
    with Stable-Baselines3 and the buffer classes in :mod:`consent_gym.sb3`, which veto
    before the update; there use ``defer_rewards=False`` here (record and render only).
    Blocking an episode out of the gradient is only possible on the learner's side, so
    this wrapper does not offer ``"block"``.

    At episode end ``info["consent"]`` (see ``info_key``) holds ``approved``, ``outcome``
    (``"approved"``, ``"vetoed"`` or ``"failed"``), ``p_acceptable``, ``judge_id``,
    ``reason``, ``text_sha256``, ``text``, ``episode_index``, ``length``, ``episode_return``
    (the env's own, before the veto) and ``reward_released``.

    Args:
        env: The environment to gate.
        judge: Any :class:`~consent_gym.judges.Judge`; ``None`` loads the embedded default
            LLM judge lazily, at the first episode end.
        on_veto: ``"zero"`` or ``"penalty"``.
        renderer: Turns the recorded episode into text; default: the env's own renderer
            from :func:`~consent_gym.render.renderer_for`.
        penalty: The reward of a vetoed episode's last step when ``on_veto="penalty"``.
        defer_rewards: ``True`` judges here and defers rewards; ``False`` passes rewards
            through unchanged and only records and renders (``info[info_key]["pending"]``
            is ``True``): the learner must apply the veto (see :mod:`consent_gym.sb3`).
        audit_log: A path or :class:`~consent_gym.audit.AuditLog` to append every verdict to.
        on_judge_error: ``"veto"`` (default: a failed judge never approves), ``"raise"``,
            or ``"approve"`` (unsafe, explicit opt-in).
        info_key: The ``info`` key for the consent record.
        actor: Optional label of the explorer, passed to renderers (e.g. ``"Naive_Explorer"``).

    Example:
        >>> import gymnasium as gym
        >>> from consent_gym import ConsentWrapper
        >>> from consent_gym.judges import RuleJudge
        >>> env = ConsentWrapper(gym.make("CartPole-v1"), judge=RuleJudge(lambda t: True))
        >>> _ = env.reset(seed=0)
        >>> total, done = 0.0, False
        >>> while not done:
        ...     _, reward, terminated, truncated, info = env.step(0)
        ...     total += reward
        ...     done = terminated or truncated
        >>> info["consent"]["outcome"], total == info["consent"]["episode_return"]
        ('approved', True)
    """

    def __init__(
        self,
        env: gym.Env,
        judge: Judge | None = None,
        on_veto: OnVeto = "zero",
        renderer: Renderer | None = None,
        penalty: float = -100.0,
        *,
        defer_rewards: bool = True,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
        actor: str | None = None,
    ) -> None:
        if not isinstance(env, gym.Env):
            raise TypeError(
                f"env must be a gymnasium.Env, got {type(env).__name__}; create one with "
                f"gymnasium.make(...). For a vector env wrap each sub-env, e.g. "
                f"gymnasium.make_vec(id, wrappers=[ConsentWrapper]) or SB3's "
                f"make_vec_env(id, wrapper_class=ConsentWrapper)."
            )
        check_gate_arguments(judge, on_veto, penalty, on_judge_error, info_key)
        if judge is not None and not defer_rewards:
            raise ValueError(
                "defer_rewards=False only records and renders; pass the judge to the "
                "learner instead (consent_gym.sb3), and judge=None here."
            )
        if renderer is not None:
            check_renderer(renderer)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            judge=judge,
            on_veto=on_veto,
            renderer=renderer,
            penalty=penalty,
            defer_rewards=defer_rewards,
            audit_log=audit_log,
            on_judge_error=on_judge_error,
            info_key=info_key,
            actor=actor,
            _disable_deepcopy=True,  # a frozen judge is shared, never copied
        )
        gym.Wrapper.__init__(self, env)

        self._judge = judge
        self.on_veto: OnVeto = on_veto
        self.renderer: Renderer = renderer if renderer is not None else renderer_for(env)
        self.penalty = float(penalty)
        self.defer_rewards = defer_rewards
        self.on_judge_error: OnJudgeError = on_judge_error
        self.info_key = info_key
        self.actor = actor
        self.audit_log, self._owns_log = open_audit_log(audit_log)
        spec = env.spec
        self.env_id: str = spec.id if spec is not None else type(env.unwrapped).__name__
        self._gate = ConsentGate(
            lambda: self.judge, on_veto, penalty, on_judge_error, self.audit_log, self.env_id
        )
        self.episode_count = 0
        self.last_verdict: Verdict | None = None
        # The running episode as plain rows (cheap per step); None outside an episode.
        self._rows: list[StepRow] | None = None
        self._finished: Trajectory | None = None  # the last episode, once it ended
        self._last_obs: Any = None

    @property
    def judge(self) -> Judge:
        """The judge; the embedded default is loaded on first access when none was given."""
        if self._judge is None:
            if not self.defer_rewards:
                raise RuntimeError("with defer_rewards=False the learner judges, not the wrapper.")
            from consent_gym.judges import default_judge

            self._judge = default_judge()
        return self._judge

    @property
    def trajectory(self) -> Trajectory | None:
        """The running episode so far (a snapshot), else the last finished one, else None."""
        if self._rows is not None:
            return Trajectory.from_rows(
                self.env_id, self.episode_count, list(self._rows), actor=self.actor
            )
        return self._finished

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and start recording a new episode.

        An unfinished episode is dropped unjudged: its withheld rewards are never released.
        """
        obs, info = super().reset(seed=seed, options=options)
        if self._rows:  # an unfinished episode still counts, so indices match the log
            self.episode_count += 1
        self._rows = []
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step, record, and at episode end judge and release (or withhold) the reward."""
        # The hot path of every gated env: one tuple per step; Steps are built at the end.
        rows = self._rows
        if rows is None:
            raise gym.error.ResetNeeded(
                "ConsentWrapper: call reset() before step() (and after an episode ends)."
            )
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward_f = float(reward)
        if not isfinite(reward_f):
            raise ValueError(
                f"{self.env_id} returned reward {reward!r} at step {len(rows)}; "
                f"consent gating needs finite rewards to release exact returns. Fix the env, "
                f"or clip with gymnasium.wrappers.TransformReward inside ConsentWrapper."
            )
        rows.append(
            (self._last_obs, action, reward_f,
             events_from_info(info) if "events" in info else (), info)
        )
        self._last_obs = obs
        if not (terminated or truncated):
            return obs, (0.0 if self.defer_rewards else reward), terminated, truncated, info
        if self.info_key in info:
            raise ValueError(
                f"info already has the key {self.info_key!r}; pass another info_key= to "
                f"ConsentWrapper so the env's own information is not overwritten."
            )
        self._rows = None
        trajectory = Trajectory.from_rows(
            self.env_id, self.episode_count, rows, terminated=terminated, truncated=truncated,
            actor=self.actor,
        )
        self._finished = trajectory
        released, info[self.info_key] = self._finish_episode(trajectory)
        return obs, (released if self.defer_rewards else reward), terminated, truncated, info

    def render_episode(self, start: int = 0) -> str:
        """The text of the current (possibly unfinished) episode from step ``start`` on.

        Learners use this to judge the fragment of a running episode they are about to
        train on.
        """
        trajectory = self.trajectory
        if trajectory is None:
            raise gym.error.ResetNeeded("ConsentWrapper: no episode recorded yet; call reset().")
        return self.renderer.render(trajectory.fragment(start))

    def _finish_episode(self, trajectory: Trajectory) -> tuple[float, dict[str, Any]]:
        text = self.renderer.render(trajectory)
        self.episode_count += 1
        if not self.defer_rewards:
            return trajectory.total_reward, {**episode_record(trajectory, text), "pending": True}
        ((released, record, verdict),) = self._gate.decide([trajectory], [text])
        self.last_verdict = verdict
        return released, record

    def close(self) -> None:
        """Close the env and the audit log this wrapper opened."""
        if self._owns_log and self.audit_log is not None:
            self.audit_log.close()
        super().close()
