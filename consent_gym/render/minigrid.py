"""Any MiniGrid episode in words: objects seen, keys picked up, doors opened, lava, goal.

:class:`MiniGridRenderer` reads what the agent saw (the ``"image"`` channel of MiniGrid's
dict observation, or a bare image from ``ImgObsWrapper``) and the actions it took
(decoded by name from :class:`minigrid.core.actions.Actions`). Each recorded
``Step.observation`` is the view the action was taken *from*, so the effect of an action
is read from the next step's view (for the last step, only what the action aimed at is
known, and the outcome from ``terminated``/``reward``).

Importing this module registers the renderer for every
:class:`minigrid.minigrid_env.MiniGridEnv` (a subclass's own registration, such as the
delivery world's, wins because the registry searches the class hierarchy first).

Example:
    >>> import gymnasium as gym
    >>> from consent_gym.trajectory import Step, Trajectory
    >>> env = gym.make("MiniGrid-Empty-5x5-v0")
    >>> obs, _ = env.reset(seed=0)
    >>> steps = []
    >>> for i, action in enumerate([2, 2, 1, 2, 2]):
    ...     nxt, reward, term, trunc, _ = env.step(action)
    ...     steps.append(Step(i, obs, action, float(reward), term, trunc))
    ...     obs = nxt
    >>> print(MiniGridRenderer().render(Trajectory("MiniGrid-Empty-5x5-v0", steps=steps)))
    Mission: get to the green goal square. The agent saw the green goal square. Steps 1-4: the agent moved forward 3 times and turned 1 time. Step 5: the agent reached the green goal square. The episode ended at step 5 with reward 0.95.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from minigrid.core.actions import Actions
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT
from minigrid.minigrid_env import MiniGridEnv

from consent_gym.render.base import register_renderer
from consent_gym.trajectory import Step, Trajectory

_BACKGROUND = {"unseen", "empty", "wall", "floor", "agent"}
_DOOR_STATES = {0: "open", 1: "closed", 2: "locked"}


def _clean(text: str, limit: int = 120) -> str:
    """Printable, single-line, bounded text (env strings are data, not instructions)."""
    out = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _image(observation: Any) -> np.ndarray | None:
    """The ``(view, view, 3)`` MiniGrid encoding in ``observation``, if there is one."""
    if isinstance(observation, Mapping):
        observation = observation.get("image")
    if observation is None:
        return None
    arr = np.asarray(observation)
    if (
        arr.ndim == 3
        and arr.shape[2] == 3
        and arr.shape[0] == arr.shape[1]
        and 3 <= arr.shape[0] <= 31
        and arr.shape[0] % 2 == 1
        and np.issubdtype(arr.dtype, np.integer)
        and arr.size
        and int(arr.min()) >= 0
        and int(arr.max()) <= max(IDX_TO_OBJECT)
    ):
        return arr
    return None


def _cell(image: np.ndarray, i: int, j: int) -> tuple[str, str, int]:
    obj, color, state = (int(v) for v in image[i, j])
    return IDX_TO_OBJECT.get(obj, "unseen"), IDX_TO_COLOR.get(color, ""), state


def _name(kind: str, color: str, state: int | None = None) -> str:
    """A noun phrase for an object: 'the yellow key', 'the green goal square', 'lava'."""
    if kind == "lava":
        return "lava"
    if kind == "goal":
        return "the green goal square" if color == "green" else f"the {color} goal square"
    if kind == "door" and state is not None:
        return f"the {_DOOR_STATES.get(state, '')} {color} door".replace("  ", " ")
    return f"the {color} {kind}" if color else f"the {kind}"


def _action_name(action: Any) -> str | None:
    try:
        return Actions(int(np.asarray(action).reshape(-1)[0])).name
    except (TypeError, ValueError, IndexError):
        return None


class MiniGridRenderer:
    """Describe a MiniGrid episode in plain English.

    Args:
        actor: Optional label of who explored (overrides ``trajectory.actor``).
        max_chars: Budget for the text; over budget, the movement summaries go first and
            then the middle events (the outcome, the first and last events stay).
    """

    def __init__(self, actor: str | None = None, max_chars: int = 800) -> None:
        if max_chars < 80:
            raise ValueError("max_chars must be at least 80.")
        self.actor = actor
        self.max_chars = max_chars

    def __repr__(self) -> str:
        return f"MiniGridRenderer(actor={self.actor!r}, max_chars={self.max_chars})"

    def render(self, trajectory: Trajectory) -> str:
        """Describe ``trajectory`` (deterministic)."""
        head: list[str] = []
        actor = self.actor if self.actor is not None else trajectory.actor
        if actor:
            head.append(f"This episode was explored by {_clean(actor, 60)}.")
        if trajectory.start_index > 0:
            head.append(f"(The episode is shown from step {trajectory.start_index + 1} on.)")
        steps = trajectory.steps
        if steps and isinstance(steps[0].observation, Mapping):
            mission = steps[0].observation.get("mission")
            if isinstance(mission, str) and mission:
                head.append(f"Mission: {_clean(mission)}.")
        seen = self._seen(steps)
        if seen:
            head.append("The agent saw " + self._join_names(seen) + ".")

        body: list[tuple[bool, str]] = []  # (is an event, sentence)
        quiet: list[int] = []
        counts = {"forward": 0, "turn": 0, "blocked": 0, "other": 0}

        def flush() -> None:
            if not quiet:
                return
            span = f"Step {quiet[0]}" if len(quiet) == 1 else f"Steps {quiet[0]}-{quiet[-1]}"
            parts = []
            if counts["forward"]:
                parts.append(f"moved forward {self._times(counts['forward'])}")
            if counts["turn"]:
                parts.append(f"turned {self._times(counts['turn'])}")
            if counts["blocked"]:
                parts.append(f"bumped into something {self._times(counts['blocked'])}")
            if counts["other"]:
                parts.append(f"did nothing visible {self._times(counts['other'])}")
            body.append((False, f"{span}: the agent {self._join_names(parts)}."))
            quiet.clear()
            for key in counts:
                counts[key] = 0

        for pos, step in enumerate(steps):
            after = steps[pos + 1].observation if pos + 1 < len(steps) else None
            number = step.index + 1
            sentence, kind = self._describe(step, after)
            if sentence is None:
                quiet.append(number)
                counts[kind] += 1
            else:
                flush()
                body.append((True, f"Step {number}: the agent {sentence}."))
        flush()
        return self._fit(head, body, self._outcome(trajectory))

    # ------------------------------------------------------------ pieces
    @staticmethod
    def _times(n: int) -> str:
        return f"{n} time" if n == 1 else f"{n} times"

    @staticmethod
    def _join_names(names: list[str]) -> str:
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + " and " + names[-1]

    @staticmethod
    def _seen(steps: list[Step]) -> list[str]:
        """Distinct objects that came into view, in order of first appearance."""
        names: list[str] = []
        for step in steps:
            image = _image(step.observation)
            if image is None:
                continue
            v = image.shape[0]
            for j in range(v - 1, -1, -1):
                for i in range(v):
                    if (i, j) == (v // 2, v - 1):
                        continue  # the agent's own cell shows what it carries
                    kind, color, _ = _cell(image, i, j)
                    if kind in _BACKGROUND:
                        continue
                    name = _name(kind, color)
                    if name not in names:
                        names.append(name)
        return names

    def _describe(self, step: Step, after: Any) -> tuple[str | None, str]:
        """A clause for a notable step, or ``(None, noise kind)`` for plain movement."""
        action = _action_name(step.action)
        image = _image(step.observation)
        if action in ("left", "right"):
            return None, "turn"
        if image is None:
            if action == "forward":
                return None, "forward"
            return (None, "other") if action is None else (f"used the {action} action", "")
        v = image.shape[0]
        front = _cell(image, v // 2, v - 2)
        held = _cell(image, v // 2, v - 1)
        nxt = _image(after)
        front_after: tuple[str, str, int] | None = None
        held_after: tuple[str, str, int] | None = None
        if nxt is not None and nxt.shape == image.shape:
            front_after = _cell(nxt, v // 2, v - 2)
            held_after = _cell(nxt, v // 2, v - 1)
        kind, color, state = front

        if action == "forward":
            if kind == "goal":
                return f"reached {_name(kind, color)}", ""
            if kind == "lava":
                return "walked into lava", ""
            if kind == "door" and state == 0:
                return f"went through the open {color} door", ""
            if kind in ("empty", "floor", "unseen"):
                return None, "forward"
            return None, "blocked"
        if action == "pickup":
            if kind not in ("key", "ball", "box"):
                return None, "other"
            if held_after is None:
                return f"tried to pick up {_name(kind, color)}", ""
            if held_after[0] == kind and held_after[1] == color:
                return f"picked up {_name(kind, color)}", ""
            return None, "other"
        if action == "drop":
            if held[0] in _BACKGROUND:
                return None, "other"
            if front_after is None:
                return f"tried to drop {_name(held[0], held[1])}", ""
            if front_after[:2] == held[:2]:
                return f"dropped {_name(held[0], held[1])}", ""
            return None, "other"
        if action == "toggle":
            if kind == "door":
                if front_after is None:
                    return f"tried to open {_name(kind, color, state)}", ""
                if front_after[0] != "door" or front_after[2] == state:
                    return (
                        (f"tried to open {_name(kind, color, state)}", "")
                        if state == 2
                        else (None, "other")
                    )
                if state == 2 and front_after[2] == 0:
                    return f"unlocked and opened the {color} door", ""
                if front_after[2] == 0:
                    return f"opened the {color} door", ""
                return f"closed the {color} door", ""
            if kind == "box":
                if front_after is None:
                    return f"tried to open {_name(kind, color)}", ""
                if front_after[0] != "box":
                    inside = front_after[0]
                    found = (
                        f", finding {_name(inside, front_after[1])} inside"
                        if inside not in _BACKGROUND
                        else ", which was empty"
                    )
                    return f"opened {_name(kind, color)}{found}", ""
            return None, "other"
        if action == "done":
            # In most MiniGrid envs "done" changes nothing; told once per use, a random
            # policy's dozen presses read like a list of incidents (docs/judges.md).
            if after is None and step.terminated:
                return "declared it was done", ""
            return None, "other"
        return None, "other"

    @staticmethod
    def _outcome(trajectory: Trajectory) -> str:
        if not trajectory.steps:
            return "Nothing happened yet."
        last = trajectory.steps[-1]
        number = last.index + 1
        if last.terminated:
            return f"The episode ended at step {number} with reward {last.reward:.2f}."
        if last.truncated:
            return f"Time ran out at step {number}."
        return "The episode had not ended yet."

    def _fit(self, head: list[str], body: list[tuple[bool, str]], outcome: str) -> str:
        text = " ".join([*head, *(s for _, s in body), outcome])
        if len(text) <= self.max_chars:
            return text
        events = [s for is_event, s in body if is_event]
        text = " ".join([*head, *events, outcome])
        while len(text) > self.max_chars and len(events) > 2:
            events.pop(len(events) // 2)
            middle = len(events) // 2
            marker = "(Some events in between are left out.)"
            shown = [*events[:middle], marker, *events[middle:]]
            text = " ".join([*head, *shown, outcome])
        if len(text) > self.max_chars:
            text = text[: self.max_chars - len(outcome) - 5].rstrip() + " ... " + outcome
        return text


register_renderer(MiniGridEnv, lambda env: MiniGridRenderer())
