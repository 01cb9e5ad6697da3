"""The recorded episode: what the agent did, step by step, as the judge will read it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple


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
        info: The ``info`` dict the env returned with this transition (``None`` when not
            recorded); renderers read flags, costs and counters from it.
    """

    index: int
    observation: Any
    action: Any
    reward: float
    terminated: bool = False
    truncated: bool = False
    events: tuple[Any, ...] = ()
    info: Mapping[str, Any] | None = None


#: What the wrappers record per step while an episode runs: ``(observation acted from,
#: action, reward, events, info)``. A plain tuple costs a tenth of a :class:`Step` to create, so
#: recording stays cheap; :attr:`Trajectory.steps` builds the steps only when asked.
StepRow = tuple[Any, Any, float, tuple[Any, ...], Mapping[str, Any] | None]


class StepColumns(NamedTuple):
    """A trajectory's steps column by column (what fast renderers read)."""

    indices: Sequence[int]
    observations: Sequence[Any]
    actions: Sequence[Any]
    rewards: Sequence[float]
    events: Sequence[tuple[Any, ...]]
    infos: Sequence[Mapping[str, Any] | None]


class Trajectory:
    """An episode (or the fragment of one that a learner is about to use).

    Build one from :class:`Step` objects, ``Trajectory(env_id, steps=[...])``; the wrappers
    build theirs from plain rows with :meth:`from_rows`, and :attr:`steps` is then created
    on first access (renderers that read :meth:`columns` never pay for it).

    Attributes:
        env_id: The Gymnasium spec id, or the env class name when unregistered.
        episode_index: Counts episodes of one wrapper from 0.
        steps: The recorded steps, in order.
        start_index: Index of ``steps[0]`` within the episode (non-zero for a fragment).
        actor: Optional label of who explored (e.g. ``"Naive_Explorer"``) that renderers
            may mention; the essay's inoculation idea.

    Example:
        >>> episode = Trajectory.from_rows("Demo-v0", 0, [(0, 1, 0.5, (), {}), (1, 0, 1.5, (), {})],
        ...                                terminated=True)
        >>> len(episode), episode.total_reward, episode.finished, episode.steps[-1].index
        (2, 2.0, True, 1)
    """

    __slots__ = ("_ended", "_rows", "_steps", "actor", "env_id", "episode_index", "start_index")

    def __init__(
        self,
        env_id: str,
        episode_index: int = 0,
        steps: list[Step] | None = None,
        start_index: int = 0,
        actor: str | None = None,
    ) -> None:
        self.env_id = env_id
        self.episode_index = episode_index
        self.start_index = start_index
        self.actor = actor
        self._steps: list[Step] | None = steps if steps is not None else []
        self._rows: list[StepRow] | None = None
        self._ended = (False, False)

    @classmethod
    def from_rows(
        cls,
        env_id: str,
        episode_index: int,
        rows: list[StepRow],
        *,
        start_index: int = 0,
        terminated: bool = False,
        truncated: bool = False,
        actor: str | None = None,
    ) -> Trajectory:
        """A trajectory over recorded :data:`StepRow` tuples, numbered from ``start_index``.

        ``terminated`` and ``truncated`` belong to the last row. The list is used as given
        (not copied): pass a copy if you keep appending to it.
        """
        trajectory = cls(env_id, episode_index, None, start_index, actor)
        trajectory._steps, trajectory._rows = None, rows
        trajectory._ended = (bool(terminated), bool(truncated))
        return trajectory

    @property
    def steps(self) -> list[Step]:
        """The steps, in order (built from the recorded rows on first access)."""
        if self._steps is None:
            assert self._rows is not None
            self._steps = steps_from_rows(self._rows, self.start_index, *self._ended)
            self._rows = None  # from now on the list of steps is the one truth
        return self._steps

    @steps.setter
    def steps(self, steps: list[Step]) -> None:
        self._steps, self._rows = steps, None

    def columns(self) -> StepColumns:
        """The steps column by column (see :class:`StepColumns`)."""
        rows = self._rows
        if rows is not None:
            if not rows:
                return StepColumns((), (), (), (), (), ())
            observations, actions, rewards, events, infos = zip(*rows, strict=True)
            start = self.start_index
            return StepColumns(range(start, start + len(rows)), observations, actions, rewards,
                               events, infos)
        steps = self.steps
        return StepColumns(
            [s.index for s in steps], [s.observation for s in steps], [s.action for s in steps],
            [s.reward for s in steps], [s.events for s in steps], [s.info for s in steps],
        )

    @property
    def last_step(self) -> Step | None:
        """The last step (``None`` when empty), without building the others."""
        rows = self._rows
        if rows is None:
            return self.steps[-1] if self.steps else None
        if not rows:
            return None
        obs, action, reward, events, info = rows[-1]
        return Step(self.start_index + len(rows) - 1, obs, action, reward, *self._ended, events,
                    info)

    def __len__(self) -> int:
        return len(self._rows) if self._rows is not None else len(self.steps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        return (self.env_id, self.episode_index, self.start_index, self.actor, self.steps) == (
            other.env_id, other.episode_index, other.start_index, other.actor, other.steps
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"Trajectory(env_id={self.env_id!r}, episode_index={self.episode_index}, "
            f"steps=<{len(self)} steps>, start_index={self.start_index}, actor={self.actor!r})"
        )

    @property
    def total_reward(self) -> float:
        """The undiscounted sum of the recorded rewards."""
        if self._rows is not None:
            return math.fsum(map(_REWARD, self._rows))
        return math.fsum([s.reward for s in self.steps])

    @property
    def finished(self) -> bool:
        """Whether the last recorded step ended the episode."""
        last = self.last_step
        return last is not None and (last.terminated or last.truncated)

    @property
    def events(self) -> list[tuple[int, Any]]:
        """``(step index, event)`` pairs over the whole trajectory, in order."""
        if self._rows is not None:
            start = self.start_index
            return [(start + i, e) for i, row in enumerate(self._rows) for e in row[3]]
        return [(s.index, e) for s in self.steps for e in s.events]

    def fragment(self, start: int) -> Trajectory:
        """The steps from episode step ``start`` on, as a new trajectory."""
        if start < self.start_index:
            raise ValueError(
                f"start={start} lies before this trajectory's first step {self.start_index}."
            )
        offset = start - self.start_index
        if self._rows is not None:
            terminated, truncated = self._ended if offset < len(self._rows) else (False, False)
            return Trajectory.from_rows(
                self.env_id, self.episode_index, self._rows[offset:], start_index=start,
                terminated=terminated, truncated=truncated, actor=self.actor,
            )
        return Trajectory(
            env_id=self.env_id,
            episode_index=self.episode_index,
            steps=self.steps[offset:],
            start_index=start,
            actor=self.actor,
        )


_REWARD = itemgetter(2)


def steps_from_rows(
    rows: Sequence[StepRow], start: int = 0, terminated: bool = False, truncated: bool = False
) -> list[Step]:
    """Steps numbered from ``start``; the last one carries ``terminated`` and ``truncated``.

    Example:
        >>> steps = steps_from_rows([(0, 1, 0.5, (), None), (1, 0, 1.0, (), None)], start=3,
        ...                         terminated=True)
        >>> [(s.index, s.action, s.terminated) for s in steps]
        [(3, 1, False), (4, 0, True)]
    """
    steps = [
        Step(i, obs, action, reward, False, False, events, info)
        for i, (obs, action, reward, events, info) in enumerate(rows, start)
    ]
    if steps and (terminated or truncated):
        steps[-1].terminated, steps[-1].truncated = bool(terminated), bool(truncated)
    return steps


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
