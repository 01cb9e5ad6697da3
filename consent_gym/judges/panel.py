"""Judge panels: several judges (checkpoints, or perceptions) decide together.

A :class:`JudgePanel` is itself a :class:`~consent_gym.judges.Judge`. Every member judges
every episode (always through the fail-closed :func:`~consent_gym.judges.judge_texts`), a
*policy* turns the members' verdicts into the panel's verdict, and any disagreement sets
``flagged=True`` so that a person investigates the episode. The panel's verdict keeps every
member's verdict, in member order, in ``Verdict.members``.

Policies (``n`` members; a *failed* member never counts as an approval):

=========  ==============================  ====================  =========================
policy     approves when                   ``p_acceptable``      a failed member
=========  ==============================  ====================  =========================
unanimous  every member approves           min of working ones   counts as a veto
majority   more than ``n / 2`` approve     mean of working ones  counts as a veto
           (a tie vetoes)
reference  the first member approves;      the reference's       reference: veto;
           the others only flag                                  another: flag only
=========  ==============================  ====================  =========================

The panel's verdict is ``failed=True`` (outcome ``"failed"``, ``p_acceptable=nan``)
exactly when it vetoes *only because of* failed members, i.e. it would have approved had
they approved; a veto that working members carry on their own stays ``"vetoed"``.
``flagged`` is true when the working members disagree, when any member failed, or when a
member's own verdict was flagged (nested panels).

**Perception per member.** Ontological drift ("that box had a person in it") can be
simulated without a second model: a :class:`PanelMember` may see the episode through its
own renderer (any object with ``render(trajectory) -> str``, e.g. the delivery env's
``surface`` vs ``informed`` perception; the panel only holds it, never calls it). Judges
only receive text, so a panel with such members reads a *views text*: one document
holding the episode rendered once per distinct renderer
(:func:`~consent_gym.judges.views.format_views`, parsed back by
:func:`~consent_gym.judges.views.parse_views`), produced by
:class:`consent_gym.render.views.PanelRenderer`. Give that renderer to
:class:`~consent_gym.ConsentWrapper` (``renderer=PanelRenderer(panel, shared_renderer)``)
or call :func:`consent_gym.gate.judge_trajectories` directly. Members
without a renderer of their own see the ``shared`` view. A panel whose members all share
the text takes any plain text.

**Disagreements in the audit log.** Whoever records the panel's verdict (the wrapper, an
SB3 buffer, or :func:`~consent_gym.gate.judge_trajectories` with
``audit_log=``) writes one line
holding every member's verdict (``members``); because the verdict is flagged,
:class:`~consent_gym.audit.AuditLog` writes the text too, and that text is the views text,
so the line holds the episode *as each member saw it* (plain text: every member saw it).
``consent-gym audit LOG.jsonl`` prints each disagreement with each member's text.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from consent_gym.judges.base import Judge, Verdict, check_judge, judge_texts, verify_frozen
from consent_gym.judges.views import SHARED_VIEW, check_view_name, parse_views

Policy = Literal["unanimous", "majority", "reference"]
POLICIES: tuple[str, ...] = ("unanimous", "majority", "reference")


def _check_member_renderer(renderer: object) -> None:
    """Raise a TypeError unless ``renderer`` has a ``render`` method (duck-typed: the panel
    only holds a member's renderer for :class:`consent_gym.render.views.PanelRenderer`)."""
    if not callable(getattr(renderer, "render", None)):
        raise TypeError(
            f"a panel member's renderer must have a render(trajectory) -> str method, got "
            f"{type(renderer).__name__}; see consent_gym.render.GenericRenderer."
        )


def _view_from_renderer(renderer: Any) -> str:
    perception = getattr(renderer, "perception", None)
    has_perception = isinstance(perception, str) and bool(perception)
    label = str(perception) if has_perception else type(renderer).__name__
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "view"
    return "own" if label == SHARED_VIEW else label


@dataclass(frozen=True)
class PanelMember:
    """One seat on a panel: a judge and, optionally, the renderer through which it sees.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge`.
        renderer: The member's own perception of the episode; ``None`` (default) means
            the member reads the same text as the caller passes (the ``shared`` view).
        name: A label for reports; default: the judge id, plus ``@view`` with a renderer.
        view: The name of the member's view in the views text; default: the renderer's
            ``perception`` attribute if it has one (``"surface"``, ``"informed"``), else
            its class name. ``"shared"`` is reserved for members without a renderer.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> class Upper:
        ...     perception = "loud"
        ...     def render(self, trajectory):
        ...         return trajectory.env_id.upper()
        >>> member = PanelMember(RuleJudge(lambda t: True, name="ok"), renderer=Upper())
        >>> member.name, member.view
        ('rule:ok@loud', 'loud')
        >>> PanelMember(RuleJudge(lambda t: True, name="ok")).view
        'shared'
    """

    judge: Judge
    renderer: Any = None
    name: str = field(default="")
    view: str = field(default="")

    def __post_init__(self) -> None:
        if isinstance(self.judge, PanelMember):
            raise TypeError("PanelMember(judge=...) got a PanelMember; pass its .judge instead.")
        check_judge(self.judge)
        if self.renderer is not None:
            _check_member_renderer(self.renderer)
            view = self.view or _view_from_renderer(self.renderer)
            if view == SHARED_VIEW:
                raise ValueError(
                    f"view {SHARED_VIEW!r} is reserved for members without a renderer; "
                    f"name this member's view e.g. view='informed'."
                )
        else:
            if self.view and self.view != SHARED_VIEW:
                raise ValueError(
                    f"view={self.view!r} needs a renderer: a member without one sees the "
                    f"{SHARED_VIEW!r} view. Pass renderer=... or drop view=."
                )
            view = SHARED_VIEW
        check_view_name(view)
        object.__setattr__(self, "view", view)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}.")
        if not self.name:
            suffix = f"@{view}" if self.renderer is not None else ""
            object.__setattr__(self, "name", f"{self.judge.judge_id}{suffix}")


class JudgePanel:
    """Several judges decide each episode under a policy; disagreements are flagged.

    Args:
        judges: The members, in order: judges, or :class:`PanelMember` for a member with
            its own renderer or name. Under ``"reference"`` the first one decides.
        policy: ``"unanimous"`` (default, the safest), ``"majority"`` or ``"reference"``;
            see the table in :mod:`consent_gym.judges.panel`.
        renderers: Optional, one entry per judge: that member's own renderer or ``None``
            (a shortcut for ``PanelMember(judge, renderer)``).
        name: Optional label, also part of the judge id.

    The ``judge_id`` is ``"panel:<policy>:<hash>"`` (``"panel:<policy>:<name>:<hash>"``
    with a name), the hash covering every member's judge id and view, so it changes
    whenever a member or its perception changes. Members given the same renderer object
    share one view (rendered once); distinct renderers whose view names coincide get
    ``-2``, ``-3``, ... appended, in member order.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> strict = RuleJudge(lambda t: "box" not in t, name="no-boxes")
        >>> lenient = RuleJudge(lambda t: "person" not in t, name="no-people")
        >>> panel = JudgePanel([strict, lenient], policy="reference")
        >>> road, box = panel.judge_batch(["drove on the road", "hit an empty box"])
        >>> road.approved, road.flagged
        (True, False)
        >>> box.approved, box.flagged, [m.approved for m in box.members]
        (False, True, [False, True])
        >>> panel.judge_id.startswith("panel:reference:")
        True
    """

    def __init__(
        self,
        judges: Sequence[Judge | PanelMember],
        policy: Policy = "unanimous",
        renderers: Sequence[Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence):
            raise TypeError(
                f"judges must be a list of judges, got {type(judges).__name__}; "
                f"e.g. JudgePanel([judge_a, judge_b])."
            )
        if not judges:
            raise ValueError("a JudgePanel needs at least one judge: JudgePanel([judge_a, ...]).")
        if policy not in POLICIES:
            raise ValueError(f"policy={policy!r} is not supported; use one of {POLICIES}.")
        if renderers is not None:
            if isinstance(renderers, (str, bytes)) or not isinstance(renderers, Sequence):
                raise TypeError("renderers must be a list with one renderer (or None) per judge.")
            if len(renderers) != len(judges):
                raise ValueError(
                    f"renderers has {len(renderers)} entries for {len(judges)} judges; give "
                    f"one per judge, None for a member that sees the shared text."
                )
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}.")
        members: list[PanelMember] = []
        for i, entry in enumerate(judges):
            renderer = renderers[i] if renderers is not None else None
            if isinstance(entry, PanelMember):
                if renderer is not None:
                    if entry.renderer is not None:
                        raise ValueError(
                            f"member {i} ({entry.name}) has a renderer already and "
                            f"renderers[{i}] gives another: keep only one of them."
                        )
                    entry = PanelMember(entry.judge, renderer, name="", view="")
                members.append(entry)
                continue
            try:
                check_judge(entry)
            except TypeError as exc:
                raise TypeError(f"judges[{i}]: {exc}") from None
            members.append(PanelMember(cast(Judge, entry), renderer))
        self.members: tuple[PanelMember, ...] = tuple(members)
        self.policy: Policy = policy
        self.name = name
        self.views: tuple[str, ...] = self._assign_views()
        identity = "\n".join(f"{judge_id}@{view}" for judge_id, view in self.member_views)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
        label = f"{name}:" if name else ""
        self.judge_id = f"panel:{policy}:{label}{digest}"

    def _assign_views(self) -> tuple[str, ...]:
        # One view name per distinct renderer object; members sharing a renderer share a view.
        by_renderer: dict[int, str] = {}
        taken: set[str] = {SHARED_VIEW}
        views = []
        for member in self.members:
            if member.renderer is None:
                views.append(SHARED_VIEW)
                continue
            key = id(member.renderer)
            if key not in by_renderer:
                view, n = member.view, 2
                while view in taken:
                    view, n = f"{member.view}-{n}", n + 1
                taken.add(view)
                by_renderer[key] = view
            views.append(by_renderer[key])
        return tuple(views)

    @property
    def member_views(self) -> tuple[tuple[str, str], ...]:
        """``(judge_id, view)`` per member, as written in a views text."""
        return tuple((m.judge.judge_id, v) for m, v in zip(self.members, self.views, strict=True))

    @property
    def has_own_perception(self) -> bool:
        """Whether some member sees the episode through its own renderer."""
        return any(m.renderer is not None for m in self.members)

    def verify_frozen(self, full: bool = True) -> None:
        """Re-check every member's frozen weights (members without weights pass)."""
        for member in self.members:
            verify_frozen(member.judge, full=full)

    def member_texts(self, text: str) -> list[str]:
        """The text each member reads when the panel is given ``text``, in member order.

        Raises:
            ValueError: ``text`` is a plain text but some member needs its own view, or
                it is a views text made for another panel.
        """
        parsed = parse_views(text)
        if parsed is None:
            if self.has_own_perception:
                names = [m.name for m in self.members if m.renderer is not None]
                raise ValueError(
                    f"panel members {names} see the episode through their own renderer, so "
                    f"the panel needs a views text, not plain text: render episodes with "
                    f"consent_gym.render.views.PanelRenderer(panel, shared_renderer) (e.g. "
                    f"ConsentWrapper(env, judge=panel, renderer=PanelRenderer(panel, ...))) "
                    f"or call consent_gym.gate.judge_trajectories(panel, ...)."
                )
            return [text] * len(self.members)
        if parsed.members != self.member_views:
            raise ValueError(
                f"this views text was rendered for panel members {list(parsed.members)}, "
                f"but this panel has {list(self.member_views)}; render it with "
                f"PanelRenderer(this_panel, ...)."
            )
        return parsed.member_texts()

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """Ask every member about every text (fail-closed) and combine under the policy.

        ``texts`` are plain texts (every member reads the same) or views texts from
        :class:`consent_gym.render.views.PanelRenderer` (each member reads its own view).
        """
        texts = list(texts)
        if not texts:
            return []
        per_text = [self.member_texts(t) for t in texts]
        per_member: list[list[Verdict]] = []
        for i, member in enumerate(self.members):
            member_inputs = [seen[i] for seen in per_text]
            per_member.append(judge_texts(member.judge, member_inputs, on_judge_error="veto"))
        return [
            self.combine([verdicts[j] for verdicts in per_member]) for j in range(len(texts))
        ]

    def combine(self, verdicts: Sequence[Verdict]) -> Verdict:
        """The panel's verdict on one episode from its members' verdicts (in member order).

        Example:
            >>> from consent_gym.judges import Verdict, failed_verdict
            >>> from consent_gym.judges import RuleJudge
            >>> a, b = RuleJudge(lambda t: True, name="a"), RuleJudge(lambda t: True, name="b")
            >>> panel = JudgePanel([a, b], policy="majority")
            >>> v = panel.combine([Verdict(True, 0.9, "rule:a"), failed_verdict("rule:b", "OOM")])
            >>> v.outcome, v.flagged
            ('failed', True)
        """
        n = len(self.members)
        if len(verdicts) != n or not all(isinstance(v, Verdict) for v in verdicts):
            raise ValueError(f"combine needs exactly {n} Verdicts (one per member, in order).")
        working = [v for v in verdicts if not v.failed]
        approvals = sum(1 for v in working if v.approved)
        failures = n - len(working)
        if self.policy == "unanimous":
            approved = approvals == n
            would_approve = approvals + failures == n
        elif self.policy == "majority":
            approved = 2 * approvals > n
            would_approve = 2 * (approvals + failures) > n
        else:
            ref = verdicts[0]
            approved = ref.approved and not ref.failed
            would_approve = ref.failed or ref.approved
        failed = not approved and would_approve
        disagree = len({v.approved for v in working}) > 1
        flagged = disagree or failures > 0 or any(v.flagged for v in verdicts)
        p = math.nan
        if not failed and working:
            if self.policy == "unanimous":
                p = min(v.p_acceptable for v in working)
            elif self.policy == "majority":
                p = math.fsum(v.p_acceptable for v in working) / len(working)
            else:
                p = verdicts[0].p_acceptable
        return Verdict(
            approved=approved,
            p_acceptable=float(p),
            judge_id=self.judge_id,
            reason=self._reason(verdicts, approved, failed, disagree),
            failed=failed,
            flagged=flagged,
            members=tuple(verdicts),
        )

    def _reason(
        self, verdicts: Sequence[Verdict], approved: bool, failed: bool, disagree: bool
    ) -> str:
        counts = {o: 0 for o in ("approved", "vetoed", "failed")}
        for v in verdicts:
            counts[v.outcome] += 1
        decision = "approved" if approved else ("vetoed (member failure)" if failed else "vetoed")
        parts = [
            f"{self.policy}: {decision}; {counts['approved']} approved, "
            f"{counts['vetoed']} vetoed, {counts['failed']} failed of {len(verdicts)}"
        ]
        if disagree:
            parts.append("members disagree: flagged for review")
        for member, verdict in zip(self.members, verdicts, strict=True):
            if verdict.failed:
                parts.append(f"{member.name} failed: {verdict.reason}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.members)
        return f"JudgePanel([{names}], policy={self.policy!r})"
