"""The recorded episode: what the agent did, step by step, as the judge will read it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Step:
    """One environment transition as recorded by :class:`~consent_gym.ConsentWrapper`.

    A slotted dataclass: cheap to create on every environment step. Treat it as read-only.

    Attributes:
        index: 0-based step number within the episode.
        observation: The observation the action was taken *from*.
        action: The action taken.
        reward: The environment's reward for this transition (before any veto).
        terminated: Whether the episode terminated at this step.
        truncated: Whether the episode was truncated at this step.
        events: Semantic events the env reported in ``info["events"]`` (a list of
            dicts with at least a ``"type"`` key, or strings); renderers prefer them.
    """

    index: int
    observation: Any
    action: Any
    reward: float
    terminated: bool = False
    truncated: bool = False
    events: tuple[Any, ...] = ()


@dataclass
class Trajectory:
    """An episode (or the fragment of one that a learner is about to use).

    Attributes:
        env_id: The Gymnasium spec id, or the env class name when unregistered.
        episode_index: Counts episodes of one wrapper from 0.
        steps: The recorded steps, in order.
        start_index: Index of ``steps[0]`` within the episode (non-zero for a fragment).
        actor: Optional label of who explored (e.g. ``"Naive_Explorer"``) that renderers
            may mention; the essay's inoculation idea.
    """

    env_id: str
    episode_index: int = 0
    steps: list[Step] = field(default_factory=list)
    start_index: int = 0
    actor: str | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def total_reward(self) -> float:
        """The undiscounted sum of the recorded rewards."""
        return math.fsum(s.reward for s in self.steps)

    @property
    def finished(self) -> bool:
        """Whether the last recorded step ended the episode."""
        return bool(self.steps) and (self.steps[-1].terminated or self.steps[-1].truncated)

    @property
    def events(self) -> list[tuple[int, Any]]:
        """``(step index, event)`` pairs over the whole trajectory, in order."""
        return [(s.index, e) for s in self.steps for e in s.events]

    def fragment(self, start: int) -> Trajectory:
        """The steps from episode step ``start`` on, as a new trajectory."""
        if start < self.start_index:
            raise ValueError(
                f"start={start} lies before this trajectory's first step {self.start_index}."
            )
        offset = start - self.start_index
        return Trajectory(
            env_id=self.env_id,
            episode_index=self.episode_index,
            steps=self.steps[offset:],
            start_index=start,
            actor=self.actor,
        )


def events_from_info(info: Mapping[str, Any]) -> tuple[Any, ...]:
    """Read ``info["events"]`` as a tuple, accepting one event or a sequence of them.

    Raises:
        TypeError: when ``info["events"]`` is neither a sequence, a dict nor a string.
    """
    raw = info.get("events")
    if raw is None:
        return ()
    if type(raw) is list:  # the common case; skips the slower ABC isinstance checks
        return tuple(raw)
    if isinstance(raw, (str, Mapping)):
        return (raw,)
    if isinstance(raw, Sequence):
        return tuple(raw)
    raise TypeError(
        f'info["events"] must be a list of events (dicts with a "type" key, or strings), '
        f"got {type(raw).__name__}."
    )
