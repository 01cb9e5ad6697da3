"""Trajectory: the same episode built from rows (as the wrappers record) or from steps."""

from __future__ import annotations

import pickle

import pytest

from consent_gym.trajectory import Step, Trajectory, steps_from_rows

ROWS = [
    ("o0", 1, 0.5, (), None),
    ("o1", 0, -1.0, ({"type": "hit_box"},), None),
    ("o2", 1, 2.0, ("delivered",), None),
]


def from_rows(**kwargs) -> Trajectory:
    return Trajectory.from_rows("Demo-v0", 3, list(ROWS), terminated=True, **kwargs)


def from_steps() -> Trajectory:
    return Trajectory("Demo-v0", 3, steps_from_rows(ROWS, 0, terminated=True))


def test_rows_and_steps_agree_on_every_accessor():
    lazy, eager = from_rows(), from_steps()
    assert len(lazy) == len(eager) == 3
    assert lazy.total_reward == eager.total_reward == 1.5
    assert lazy.finished and eager.finished
    assert lazy.events == eager.events == [(1, {"type": "hit_box"}), (2, "delivered")]
    assert lazy.last_step == eager.last_step == Step(2, "o2", 1, 2.0, True, False, ("delivered",))
    assert tuple(map(tuple, lazy.columns())) == tuple(map(tuple, eager.columns()))
    assert lazy == eager  # builds the steps of the lazy one


def test_steps_are_built_once_and_then_are_the_only_truth():
    lazy = from_rows()
    steps = lazy.steps
    assert lazy.steps is steps
    assert [s.index for s in steps] == [0, 1, 2]
    assert [(s.terminated, s.truncated) for s in steps] == [(False, False)] * 2 + [(True, False)]
    steps.append(Step(3, "o3", 0, 1.0))  # edits to the list are seen from now on
    assert len(lazy) == 4 and lazy.total_reward == 2.5 and not lazy.finished


def test_fragment_of_rows_keeps_numbering_and_ending():
    fragment = from_rows().fragment(1)
    assert fragment.start_index == 1
    assert [s.index for s in fragment.steps] == [1, 2]
    assert fragment.finished
    assert from_rows().fragment(3).last_step is None  # past the end: empty, not finished
    with pytest.raises(ValueError, match="lies before"):
        from_rows(start_index=2).fragment(1)


def test_truncated_ending_and_empty_trajectories():
    truncated = Trajectory.from_rows("Demo-v0", 0, list(ROWS), truncated=True)
    assert truncated.last_step is not None and truncated.last_step.truncated
    empty = Trajectory.from_rows("Demo-v0", 0, [])
    assert len(empty) == 0 and not empty.finished and empty.total_reward == 0.0
    assert empty.columns().indices == () and Trajectory("x").last_step is None


def test_pickles_and_reprs_without_building_steps():
    lazy = from_rows(actor="Naive_Explorer")
    clone = pickle.loads(pickle.dumps(lazy))
    assert clone == lazy and clone.actor == "Naive_Explorer"
    assert repr(from_rows()) == (
        "Trajectory(env_id='Demo-v0', episode_index=3, steps=<3 steps>, start_index=0, "
        "actor=None)"
    )
    assert lazy != "not a trajectory"


def test_steps_can_be_replaced():
    lazy = from_rows()
    lazy.steps = [Step(0, None, 0, 7.0, terminated=True)]
    assert len(lazy) == 1 and lazy.total_reward == 7.0 and lazy.finished
