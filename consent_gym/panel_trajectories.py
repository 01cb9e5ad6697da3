"""Judge recorded episodes with a judge panel directly, without a wrapper or a learner.

:func:`judge_trajectories` renders each episode once per distinct member renderer
(:class:`~consent_gym.render.views.PanelRenderer`), asks the panel, and optionally records
every verdict in an :class:`~consent_gym.audit.AuditLog`. It lives outside
:mod:`consent_gym.judges` because judges know text, never trajectories or audit logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_gym.audit import AuditLog
from consent_gym.judges.base import Verdict
from consent_gym.judges.panel import JudgePanel
from consent_gym.render.base import Renderer
from consent_gym.render.views import PanelRenderer
from consent_gym.trajectory import Trajectory

__all__ = ["judge_trajectories"]


def judge_trajectories(
    panel: JudgePanel,
    trajectories: Sequence[Trajectory],
    shared: Renderer | None = None,
    *,
    audit_log: AuditLog | None = None,
) -> list[Verdict]:
    """Render each trajectory once per distinct renderer, judge, and optionally log.

    Args:
        panel: The :class:`~consent_gym.judges.JudgePanel`.
        trajectories: The episodes.
        shared: Renderer for members without their own (see
            :class:`~consent_gym.render.views.PanelRenderer`).
        audit_log: An :class:`~consent_gym.audit.AuditLog`; every verdict is recorded
            with its views text (written for flagged ones: the texts each member saw).

    Returns:
        One panel verdict per trajectory, in order.

    Example:
        >>> from consent_gym import Step, Trajectory
        >>> from consent_gym.judges import JudgePanel, RuleJudge
        >>> class Informed:
        ...     perception = "informed"
        ...     def render(self, trajectory):
        ...         return "The car hit a box with a person inside."
        >>> no_people = RuleJudge(lambda t: "person" not in t, name="no-people")
        >>> panel = JudgePanel([no_people], renderers=[Informed()])
        >>> episode = Trajectory("Boxes-v0", steps=[Step(0, None, 0, -1.0, True)])
        >>> judge_trajectories(panel, [episode])[0].outcome
        'vetoed'
    """
    if audit_log is not None and not isinstance(audit_log, AuditLog):
        raise TypeError(
            f"audit_log must be a consent_gym.AuditLog, got {type(audit_log).__name__}; "
            f"open one with AuditLog('audit.jsonl')."
        )
    trajectories = list(trajectories)
    for i, trajectory in enumerate(trajectories):
        if not isinstance(trajectory, Trajectory):
            raise TypeError(
                f"trajectories[{i}] is a {type(trajectory).__name__}, expected a "
                f"consent_gym.Trajectory; for texts use panel.judge_batch(texts)."
            )
    renderer = PanelRenderer(panel, shared)
    texts = [renderer.render(t) for t in trajectories]
    verdicts = panel.judge_batch(texts)
    if audit_log is not None:
        for trajectory, text, verdict in zip(trajectories, texts, verdicts, strict=True):
            audit_log.record(
                verdict,
                text=text,
                env_id=trajectory.env_id,
                episode_index=trajectory.episode_index,
            )
        audit_log.sync()
    return verdicts
