"""``ConsentWrapper``: a Gymnasium wrapper that lets an episode's reward count only with consent."""

from __future__ import annotations

import os
from math import fsum
from typing import Any, Literal

import gymnasium as gym

from consent_gym.audit import AuditLog
from consent_gym.gate import (
    WRAPPER_MODES,
    ConsentSettings,
    ConsentStats,
    Decision,
    Mode,
    Piece,
    decide,
)
from consent_gym.judges.base import Judge, OnJudgeError, Verdict
from consent_gym.recorder import ConsentRecorder, episode_record
from consent_gym.render.base import Renderer
from consent_gym.trajectory import Trajectory

#: When an episode's rewards reach the learner: ``"as_earned"`` (unchanged, step by step;
#: a vetoed episode is neutralised at its last step) or ``"deferred"`` (0 until the last
#: step, which releases the whole return if approved).
RewardTiming = Literal["as_earned", "deferred"]
REWARD_TIMINGS: tuple[str, ...] = ("as_earned", "deferred")


def check_reward_timing(reward_timing: object) -> None:
    """Raise a ``ValueError`` naming the choices for ``reward_timing``."""
    if reward_timing not in REWARD_TIMINGS:
        raise ValueError(
            f"reward_timing={reward_timing!r} is not supported; use one of {REWARD_TIMINGS} "
            f"('as_earned' keeps the env's credit timing, 'deferred' withholds rewards until "
            f"the verdict)."
        )


def last_step_reward(
    decision: Decision, trajectory: Trajectory, reward_timing: RewardTiming
) -> float:
    """The reward the episode's last step carries so that the episode sums to ``released``.

    ``"deferred"``: the earlier steps paid 0, so the last pays ``released``. ``"as_earned"``:
    the earlier steps paid their own rewards; an approved episode's last step pays its own
    reward too, a vetoed one's pays ``released`` minus what was already paid (a compensating
    reward: the undiscounted return becomes exactly 0, or the penalty). Only that last case
    reads the episode's rewards (the common, approved case costs nothing per step).

    Example:
        >>> from consent_gym.gate import Piece
        >>> from consent_gym.judges import Verdict
        >>> episode = Trajectory.from_rows("Demo-v0", 0, [(0, 0, r, (), None) for r in (1, 2, 3.0)],
        ...                                terminated=True)
        >>> vetoed = Decision(Piece("t", 6.0), Verdict(False, 0.0, "j"), released=0.0)
        >>> last_step_reward(vetoed, episode, "as_earned")
        -3.0
        >>> last_step_reward(vetoed, episode, "deferred")
        0.0
    """
    if reward_timing == "deferred":
        return decision.released
    if decision.approved:
        last = trajectory.last_step
        return last.reward if last is not None else 0.0
    rewards = trajectory.columns().rewards
    return decision.released - fsum(rewards[i] for i in range(len(rewards) - 1))


class ConsentWrapper(ConsentRecorder):
    """Renders each episode as text for a frozen judge; a vetoed episode's reward is undone.

    Every step is recorded; at the episode's last step the trajectory is rendered, judged
    (through the one decision step, :func:`consent_gym.gate.decide`), logged, and:

    - ``reward_timing="as_earned"`` (default): rewards pass through as they happen, so an
      approved episode teaches exactly what it teaches ungated. A vetoed episode's last
      step carries a compensating reward: its undiscounted return becomes exactly 0
      (``mode="zero"``) or ``penalty``. Its *discounted* return from step 0 is
      ``sum(gamma**t r_t) - gamma**T sum(r_t)`` (+ ``gamma**T penalty``), and a learner
      that updates mid-episode has already learned from the earlier rewards: only a
      learner integration (:mod:`consent_gym.sb3`, :mod:`consent_gym.rollout`) gives
      consent *before* the update.
    - ``reward_timing="deferred"``: rewards are 0 during the episode; the last step
      releases the whole return if approved, else 0 or the penalty. Nothing of a vetoed
      episode is ever paid, but all credit moves to the last step (with GAE an action k
      steps before the end gets ``(gamma*lambda)**k`` of it): learning is much slower.

    At episode end ``info["consent"]`` (see ``info_key``) holds ``approved``, ``outcome``
    (``"approved"``, ``"vetoed"`` or ``"failed"``), ``p_acceptable``, ``judge_id``,
    ``reason``, ``text_sha256``, ``text``, ``episode_index``, ``length``, ``episode_return``
    (the env's own, before the veto) and ``reward_released`` (what the episode's rewards
    sum to for the learner). Put ``RecordEpisodeStatistics`` *inside* this wrapper to log
    the task's own returns (outside, it logs what the learner received).

    Args:
        env: The environment to gate.
        judge: Any :class:`~consent_gym.judges.Judge`; ``None`` loads the embedded default
            LLM judge lazily, at the first episode end.
        mode: ``"zero"`` or ``"penalty"`` (``"block"`` needs the learner: see
            :mod:`consent_gym.sb3`).
        renderer: Turns the recorded episode into text; default: the env's own renderer.
        penalty: What a vetoed episode's rewards sum to when ``mode="penalty"``.
        reward_timing: ``"as_earned"`` (default) or ``"deferred"``.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog` to append every verdict to.
        on_judge_error: ``"veto"`` (default: a failed judge never approves), ``"raise"``,
            or ``"approve"`` (unsafe, explicit opt-in).
        info_key: The ``info`` key for the consent record.
        actor: Optional label of the explorer, passed to renderers.

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
        check_reward_timing(reward_timing)
        settings = ConsentSettings(
            judge, mode, penalty, audit_log, on_judge_error, info_key, modes=WRAPPER_MODES
        )
        gym.utils.RecordConstructorArgs.__init__(
            self, judge=judge, mode=mode, renderer=renderer, penalty=penalty,
            reward_timing=reward_timing, audit_log=audit_log, on_judge_error=on_judge_error,
            info_key=info_key, actor=actor,
            _disable_deepcopy=True,  # a frozen judge is shared, never copied
        )
        super().__init__(env, renderer, info_key=info_key, actor=actor)
        self.settings = settings
        self.reward_timing: RewardTiming = reward_timing
        self.withhold_running_rewards = reward_timing == "deferred"
        self.last_verdict: Verdict | None = None
        #: What the decision step counted for this wrapper (judged, vetoed, judge time, ...).
        self.stats = ConsentStats()

    @property
    def judge(self) -> Judge:
        """The judge; the embedded default is loaded on first access when none was given."""
        if self.settings.judge is None:
            from consent_gym.judges import default_judge

            self.settings.judge = default_judge()
        return self.settings.judge

    @property
    def mode(self) -> Mode:
        """The veto mode, ``"zero"`` or ``"penalty"``."""
        return self.settings.mode

    @property
    def audit_log(self) -> AuditLog | None:
        """The audit log every verdict is appended to, if any."""
        return self.settings.audit_log

    def end_episode(
        self, trajectory: Trajectory, text: str, last_reward: float
    ) -> tuple[float, dict[str, Any]]:
        """Judge the ended episode and pay its last step (see :func:`last_step_reward`)."""
        _ = self.judge  # loads the default judge on first use
        piece = Piece(text, trajectory.total_reward, self.env_id, trajectory.episode_index,
                      steps=len(trajectory))
        (decision,) = decide(self.settings, [piece], stats=self.stats, learner="wrapper")
        self.last_verdict = decision.verdict
        return last_step_reward(decision, trajectory, self.reward_timing), consent_record(
            decision, trajectory
        )

    def close(self) -> None:
        """Close the env and the audit log this wrapper opened."""
        self.settings.close()
        super().close()


def consent_record(decision: Decision, trajectory: Trajectory) -> dict[str, Any]:
    """The ``info`` record of a judged episode (shared with the vector wrapper)."""
    verdict = decision.verdict
    record = episode_record(trajectory, decision.piece.text, decision.piece.episode_return)
    record.update(
        approved=verdict.approved, outcome=verdict.outcome, p_acceptable=verdict.p_acceptable,
        judge_id=verdict.judge_id, reason=verdict.reason, flagged=verdict.flagged,
        reward_released=decision.released, pending=False,
    )
    if verdict.members:
        record["members"] = [m.to_dict() for m in verdict.members]
    return record
