"""A renderer for any Gymnasium env: events first, numbers as a fallback, within a budget."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

import gymnasium as gym
import numpy as np

from consent_gym.trajectory import Trajectory

_MAX_ARRAY_ITEMS = 16
_MAX_STRING = 80


def sanitize_text(text: str) -> str:
    """Make ``text`` safe to show a judge: valid UTF-8, no control characters but newlines.

    Characters Python does not call printable (NUL, escape sequences, bidi overrides,
    unusual spaces and line separators, unpaired surrogates from invalid UTF-8) are replaced
    by visible ``\\uXXXX`` escapes and tabs by spaces, so an environment or agent cannot
    hide text from a person reading the log.

    Example:
        >>> sanitize_text("ok\\x00\\x1b[2J done")
        'ok\\\\u0000\\\\u001b[2J done'
    """
    if text.isprintable():  # the common case, checked in C
        return text
    if "\n" in text:
        return "\n".join(sanitize_text(line) for line in text.split("\n"))
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


def format_number(x: Any, precision: int) -> str:
    """Short, deterministic text for a number (integers stay integers)."""
    kind = type(x)
    if kind is int:
        return str(x)
    if kind is float and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x)).lower()
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    xf = float(x)
    if math.isnan(xf) or math.isinf(xf):
        return str(xf)
    if xf.is_integer() and abs(xf) < 1e15:
        return str(int(xf))
    return f"{xf:.{precision}g}"


def format_value(value: Any, precision: int = 3) -> str:
    """Readable text for a value drawn from any Gymnasium space.

    Example:
        >>> import numpy as np
        >>> format_value({"pos": np.array([1.0, 2.5]), "flag": np.int8(1)})
        '{pos: [1, 2.5], flag: 1}'
        >>> format_value(np.zeros((8, 8)))
        'array(8x8, min 0, mean 0, max 0)'
    """
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k}: {format_value(v, precision)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v, precision) for v in value) + ")"
    if isinstance(value, str):
        text = value if len(value) <= _MAX_STRING else value[: _MAX_STRING - 3] + "..."
        return repr(text)
    if isinstance(value, (list, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype == object:
            return "[" + ", ".join(format_value(v, precision) for v in arr.ravel()) + "]"
        if arr.size <= _MAX_ARRAY_ITEMS:
            flat = ", ".join(format_number(v, precision) for v in arr.ravel().tolist())
            return f"[{flat}]"
        shape = "x".join(str(d) for d in arr.shape)
        numeric = arr.astype(np.float64)
        return (
            f"array({shape}, min {format_number(numeric.min(), precision)}, "
            f"mean {format_number(numeric.mean(), precision)}, "
            f"max {format_number(numeric.max(), precision)})"
        )
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_, bool)):
        return format_number(value, precision)
    text = repr(value)
    return text if len(text) <= _MAX_STRING else text[: _MAX_STRING - 3] + "..."


def format_event(event: Any, precision: int = 3) -> str:
    """``{"type": "hit_box", "contents": "empty"}`` -> ``'hit box (contents: empty)'``."""
    if isinstance(event, Mapping):
        kind = str(event.get("type", "event")).replace("_", " ")
        extras = [f"{k}: {format_value(v, precision)}" for k, v in event.items() if k != "type"]
        return f"{kind} ({', '.join(extras)})" if extras else kind
    return str(event)


class GenericRenderer:
    """Describes an episode of any env as numbered step lines, within a character budget.

    - Steps with env events (``info["events"]``) are described by their events.
    - Runs of identical steps (same action, reward and events) collapse into one line
      such as ``steps 4-19: action 1, reward 0``.
    - Past ``max_chars`` the head and the tail are kept around an explicit
      ``... N steps omitted ...`` marker, so the ending (often where harm happens) stays.

    Args:
        max_chars: Character budget for the whole text (at least 200).
        include_observations: Show each single step's observation (collapsed runs and
            steps with events never show them).
        precision: Significant digits for floats.
        action_names: Optional names for ``Discrete`` actions, e.g. ``["left", "right"]``.

    Example:
        >>> from consent_gym.trajectory import Step, Trajectory
        >>> steps = [Step(i, observation=0, action=1, reward=1.0) for i in range(5)]
        >>> steps.append(Step(5, 0, 0, 1.0, terminated=True, events=({"type": "fell"},)))
        >>> print(GenericRenderer().render(Trajectory("Demo-v0", steps=steps)))
        Episode 0 of Demo-v0, 6 steps.
        steps 0-4: action 1, reward 1
        step 5: fell; action 0, reward 1
        Ended: terminated at step 5. Total reward 6.
    """

    def __init__(
        self,
        max_chars: int = 2000,
        include_observations: bool = False,
        precision: int = 3,
        action_names: list[str] | None = None,
    ) -> None:
        if not isinstance(max_chars, int) or max_chars < 200:
            raise ValueError(f"max_chars must be an int >= 200, got {max_chars!r}.")
        if not isinstance(precision, int) or not 1 <= precision <= 12:
            raise ValueError(f"precision must be an int from 1 to 12, got {precision!r}.")
        self.max_chars = max_chars
        self.include_observations = include_observations
        self.precision = precision
        self.action_names = list(action_names) if action_names is not None else None
        self._memo: dict[tuple[Any, ...], str] = {}

    @classmethod
    def for_env(cls, env: gym.Env, **kwargs: Any) -> GenericRenderer:
        """A generic renderer for ``env`` (reads action names from ``env.unwrapped`` if any)."""
        names = getattr(env.unwrapped, "action_names", None)
        if names is not None and "action_names" not in kwargs:
            kwargs["action_names"] = [str(n) for n in names]
        return cls(**kwargs)

    def _action(self, action: Any) -> str:
        if self.action_names is not None and isinstance(action, (int, np.integer)):
            index = int(action)
            if 0 <= index < len(self.action_names):
                return self.action_names[index]
        return format_value(action, self.precision)

    def _body(
        self, action: Any, reward: float, events: tuple[Any, ...], observation: Any,
        with_observation: bool,
    ) -> str:
        """One step's description (sanitised): its events, else its observation if asked."""
        parts = []
        if events:
            parts.append("; ".join(format_event(e, self.precision) for e in events) + ";")
        elif with_observation:
            parts.append(f"from {format_value(observation, self.precision)},")
        parts.append(
            f"action {self._action(action)}, reward {format_number(reward, self.precision)}"
        )
        return sanitize_text(" ".join(parts))

    def _keys(
        self, actions: Sequence[Any], rewards: Sequence[float], events: Sequence[tuple[Any, ...]]
    ) -> list[str]:
        """Each step's text without its number; equal keys collapse into one line."""
        memo = self._memo
        keys: list[str | None]
        if any(events):
            keys = [None] * len(actions)
        else:  # the common case, looked up in C: (action type, action, reward) -> text
            try:
                keys = list(map(memo.get, zip(map(type, actions), actions, rewards, strict=True)))
            except TypeError:  # an unhashable action (an array): format every step
                keys = [None] * len(actions)
        if None not in keys:
            return keys  # type: ignore[return-value]
        for i, key in enumerate(keys):
            if key is not None:
                continue
            action, reward, step_events = actions[i], rewards[i], events[i]
            body = self._body(action, reward, step_events, None, False)
            if not step_events:
                try:
                    if len(memo) >= 4096:
                        memo.clear()
                    memo[(type(action), action, reward)] = body
                except TypeError:
                    pass
            keys[i] = body
        return keys  # type: ignore[return-value]

    def _step_lines(self, trajectory: Trajectory) -> list[str]:
        indices, observations, actions, rewards, events, _ = trajectory.columns()
        lines: list[str] = []
        i = 0
        for key, run in groupby(self._keys(actions, rewards, events)):
            j = i + len(list(run)) - 1
            if j > i:
                lines.append(f"steps {indices[i]}-{indices[j]}: {key}")
            else:
                if self.include_observations and not events[i]:
                    key = self._body(actions[i], rewards[i], (), observations[i], True)
                lines.append(f"step {indices[i]}: {key}")
            i = j + 1
        return lines

    def render(self, trajectory: Trajectory) -> str:
        """The episode as text of at most ``max_chars`` characters."""
        n = len(trajectory)
        who = f" explored by {trajectory.actor}" if trajectory.actor else ""
        fragment = f" (from step {trajectory.start_index})" if trajectory.start_index else ""
        header = (
            f"Episode {trajectory.episode_index} of {trajectory.env_id}{who}, {n} steps{fragment}."
        )
        last = trajectory.last_step
        if last is not None and (last.terminated or last.truncated):
            how = "terminated" if last.terminated else "truncated"
            ending = f"Ended: {how} at step {last.index}."
        else:
            ending = "Still running."
        footer = f"{ending} Total reward {format_number(trajectory.total_reward, self.precision)}."
        return fit_lines(
            sanitize_text(header), self._step_lines(trajectory), sanitize_text(footer),
            self.max_chars,
        )


def fit_lines(header: str, body: list[str], footer: str, max_chars: int) -> str:
    """Join header, body lines and footer; past ``max_chars`` keep head and tail of the body.

    The omitted middle is replaced by one ``... N lines omitted ...`` line, so nothing is
    cut silently. Over-long single lines are shortened with ``...``.

    Example:
        >>> text = fit_lines("H", [f"line {i}" for i in range(100)], "F", 60)
        >>> text.splitlines()[1], text.splitlines()[-1], "omitted" in text, len(text) <= 60
        ('line 0', 'F', True, True)
    """
    line_cap = max(20, max_chars // 3)

    def clip(line: str) -> str:
        return line if len(line) <= line_cap else line[: line_cap - 3] + "..."

    header, footer = clip(header), clip(footer)
    if body and max(map(len, body)) > line_cap:
        body = [clip(line) for line in body]
    full = "\n".join([header, *body, footer])
    if len(full) <= max_chars:
        return full
    marker_room = len("... 999999 lines omitted ...") + 1
    budget = max_chars - len(header) - len(footer) - 2 - marker_room
    head: list[str] = []
    tail: list[str] = []
    lo, hi = 0, len(body) - 1
    take_head = True
    while lo <= hi:
        line = body[lo] if take_head else body[hi]
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        if take_head:
            head.append(line)
            lo += 1
        else:
            tail.append(line)
            hi -= 1
        take_head = not take_head
    omitted = hi - lo + 1
    marker = [f"... {omitted} lines omitted ..."] if omitted > 0 else []
    return "\n".join([header, *head, *marker, *reversed(tail), footer])
