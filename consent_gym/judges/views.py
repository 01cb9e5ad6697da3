"""The views text: one episode as each member of a judge panel saw it, in one string.

A panel whose members perceive an episode differently (``surface`` vs ``informed``) is
still a judge, so it still reads one text per episode: :func:`format_views` bundles the
renderings, :meth:`JudgePanel.member_texts <consent_gym.judges.JudgePanel.member_texts>`
splits them again with :func:`parse_views`. This module is only the text format (judges
know text, never trajectories); the renderer that writes it from a trajectory is
:class:`consent_gym.render.views.PanelRenderer`, which re-exports these names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SHARED_VIEW",
    "VIEWS_HEADER",
    "PanelViews",
    "check_view_name",
    "format_views",
    "parse_views",
]

#: The view seen by members without a renderer of their own.
SHARED_VIEW = "shared"
#: First line of a views text (see :func:`format_views`).
VIEWS_HEADER = "consent-gym panel views v1"
_VIEW_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_VIEW_LINE = re.compile(r"^--- view ([A-Za-z0-9_.-]+): (\d+) chars ---$")


def check_view_name(view: str) -> None:
    """Raise a ValueError unless ``view`` can name a view in a views text.

    Example:
        >>> check_view_name("informed")
        >>> check_view_name("has space")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: view name 'has space' is not usable: ...
    """
    if not isinstance(view, str) or not _VIEW_NAME.match(view):
        raise ValueError(
            f"view name {view!r} is not usable: use letters, digits, '_', '.' or '-' "
            f"(e.g. 'surface' or 'informed')."
        )


@dataclass(frozen=True)
class PanelViews:
    """A parsed views text: the episode as each member of a panel saw it.

    Attributes:
        members: ``(judge_id, view)`` per panel member, in member order.
        views: View name -> the text of that view.
    """

    members: tuple[tuple[str, str], ...]
    views: dict[str, str]

    def member_texts(self) -> list[str]:
        """The text each member saw, in member order."""
        return [self.views[view] for _, view in self.members]


def format_views(members: Sequence[tuple[str, str]], views: dict[str, str]) -> str:
    """Bundle several renderings of one episode into one text a panel can split again.

    The format is readable as it stands (it is what the audit log stores for a flagged
    episode): a header line, a ``members:`` JSON line mapping each member to its view,
    then each view as ``--- view NAME: N chars ---`` followed by exactly ``N`` characters,
    so view texts may contain anything, including lines that look like headers.

    Args:
        members: ``(judge_id, view)`` per member, in order; every view must be in ``views``.
        views: View name -> text.

    Example:
        >>> text = format_views([("rule:a", "shared"), ("rule:b", "informed")],
        ...                     {"shared": "hit a box", "informed": "hit a box with a person"})
        >>> print(text)
        consent-gym panel views v1
        members: [["rule:a", "shared"], ["rule:b", "informed"]]
        --- view shared: 9 chars ---
        hit a box
        --- view informed: 23 chars ---
        hit a box with a person
        >>> parse_views(text).member_texts()
        ['hit a box', 'hit a box with a person']
    """
    if not members:
        raise ValueError("format_views needs at least one member.")
    for _, view in members:
        if view not in views:
            raise ValueError(f"member view {view!r} has no text in views {sorted(views)}.")
    lines = [VIEWS_HEADER, "members: " + json.dumps([list(m) for m in members])]
    for name, text in views.items():
        check_view_name(name)
        if not isinstance(text, str):
            raise TypeError(f"view {name!r} must be text, got {type(text).__name__}.")
        lines.append(f"--- view {name}: {len(text)} chars ---")
        lines.append(text)
    return "\n".join(lines)


def parse_views(text: str) -> PanelViews | None:
    """Split a views text made by :func:`format_views`; ``None`` for any other text.

    Raises:
        ValueError: the text starts like a views text but is malformed (truncated, a
            length that does not match, a member whose view is missing).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    if not text.startswith(VIEWS_HEADER + "\n"):
        return None
    pos = len(VIEWS_HEADER) + 1
    end = text.find("\n", pos)
    line = text[pos:] if end < 0 else text[pos:end]
    if not line.startswith("members: "):
        raise ValueError("malformed panel views text: the second line must be 'members: [...]'.")
    try:
        raw = json.loads(line[len("members: "):])
        members = tuple((str(judge_id), str(view)) for judge_id, view in raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed panel views text: bad members line ({exc}).") from exc
    views: dict[str, str] = {}
    pos = len(text) if end < 0 else end + 1
    while pos < len(text):
        end = text.find("\n", pos)
        match = _VIEW_LINE.match(text[pos:end] if end >= 0 else text[pos:])
        if end < 0 or match is None:
            raise ValueError(f"malformed panel views text: expected a view line at char {pos}.")
        name, length = match.group(1), int(match.group(2))
        start = end + 1
        if start + length > len(text):
            raise ValueError(f"malformed panel views text: view {name!r} is truncated.")
        views[name] = text[start : start + length]
        pos = start + length
        if pos < len(text):
            if text[pos] != "\n":
                raise ValueError(f"malformed panel views text: view {name!r} has a wrong length.")
            pos += 1
    missing = sorted({view for _, view in members} - set(views))
    if missing:
        raise ValueError(f"malformed panel views text: no text for views {missing}.")
    return PanelViews(members=members, views=views)
