"""The renderer of judge panels: one episode, rendered once per member perception.

A :class:`~consent_gym.judges.JudgePanel` whose members see the episode through their own
renderers (``surface`` vs ``informed``) reads a *views text*: the episode as each member
saw it, in one string. :class:`PanelRenderer` writes it from a trajectory; the text format
itself (:func:`format_views`, :func:`parse_views`, :class:`PanelViews`, :data:`SHARED_VIEW`,
:data:`VIEWS_HEADER`) lives with the panel that reads it, in
:mod:`consent_gym.judges.views`, and is re-exported here.

Example:
    >>> from consent_gym import Step, Trajectory
    >>> from consent_gym.judges import JudgePanel, RuleJudge
    >>> class Surface:
    ...     perception = "surface"
    ...     def render(self, trajectory):
    ...         return "The car hit a box."
    >>> class Informed:
    ...     perception = "informed"
    ...     def render(self, trajectory):
    ...         return "The car hit a box with a person inside."
    >>> no_people = RuleJudge(lambda t: "person" not in t, name="no-people")
    >>> panel = JudgePanel([no_people, no_people], renderers=[Surface(), Informed()])
    >>> episode = Trajectory("Boxes-v0", steps=[Step(0, None, 0, -1.0, True)])
    >>> verdict = panel.judge_batch([PanelRenderer(panel).render(episode)])[0]
    >>> verdict.outcome, verdict.flagged, [m.approved for m in verdict.members]
    ('vetoed', True, [True, False])
"""

from __future__ import annotations

from consent_gym.judges.panel import JudgePanel
from consent_gym.judges.views import (
    SHARED_VIEW,
    VIEWS_HEADER,
    PanelViews,
    check_view_name,
    format_views,
    parse_views,
)
from consent_gym.render.base import Renderer, check_renderer
from consent_gym.trajectory import Trajectory

__all__ = [
    "SHARED_VIEW",
    "VIEWS_HEADER",
    "PanelRenderer",
    "PanelViews",
    "check_view_name",
    "format_views",
    "parse_views",
]


class PanelRenderer:
    """Renders an episode once per distinct member renderer into one views text.

    ``PanelRenderer(panel, shared)``: ``shared`` renders the view of members without a
    renderer of their own (required when there is such a member). Deterministic whenever
    the member renderers are.
    It keeps only the renderers and the member-to-view map, never the judges, so envs
    (and ``SubprocVecEnv`` workers it is pickled into) hold no reference to a judge model.
    """

    def __init__(self, panel: JudgePanel, shared: Renderer | None = None) -> None:
        if not isinstance(panel, JudgePanel):
            raise TypeError(f"panel must be a JudgePanel, got {type(panel).__name__}.")
        if shared is not None:
            check_renderer(shared)
        needs_shared = any(m.renderer is None for m in panel.members)
        if needs_shared and shared is None:
            names = [m.name for m in panel.members if m.renderer is None]
            raise ValueError(
                f"panel members {names} have no renderer of their own and see the shared "
                f"view: pass the shared renderer, e.g. PanelRenderer(panel, GenericRenderer())."
            )
        self.member_views: tuple[tuple[str, str], ...] = panel.member_views
        self.shared = shared if needs_shared else None
        renderers: dict[str, Renderer] = {}
        for member, view in zip(panel.members, panel.views, strict=True):
            renderer = member.renderer if member.renderer is not None else shared
            assert renderer is not None  # checked above
            renderers.setdefault(view, renderer)
        self.renderers = renderers
        self.panel_id = panel.judge_id

    def render_views(self, trajectory: Trajectory) -> dict[str, str]:
        """View name -> text, rendering the trajectory once per distinct renderer."""
        views: dict[str, str] = {}
        for view, renderer in self.renderers.items():
            text = renderer.render(trajectory)
            if not isinstance(text, str):
                raise TypeError(
                    f"renderer of view {view!r} returned {type(text).__name__}, expected str."
                )
            views[view] = text
        return views

    def render(self, trajectory: Trajectory) -> str:
        """The views text of ``trajectory`` for this panel."""
        return format_views(self.member_views, self.render_views(trajectory))

    def __repr__(self) -> str:
        return f"PanelRenderer(panel={self.panel_id!r}, views={list(self.renderers)})"
