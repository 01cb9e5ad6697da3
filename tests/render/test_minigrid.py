"""MiniGridRenderer: any MiniGrid episode in words (keys, doors, lava, goal)."""

from __future__ import annotations

import re
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from minigrid.core.actions import Actions
from minigrid.core.constants import DIR_TO_VEC
from minigrid.wrappers import FlatObsWrapper, ImgObsWrapper

import consent_gym  # noqa: F401  (registers the renderers)
from consent_gym.render import renderer_for
from consent_gym.render.minigrid import MiniGridRenderer
from consent_gym.trajectory import Step, Trajectory


def plan_to_face(env: gym.Env, target: tuple[int, int]) -> list[int]:
    """Turn/forward actions that bring the agent next to ``target``, facing it (BFS)."""
    base = env.unwrapped
    start = (tuple(int(v) for v in base.agent_pos), int(base.agent_dir))
    queue: deque = deque([(start, [])])
    seen = {start}
    while queue:
        (pos, d), path = queue.popleft()
        dx, dy = (int(v) for v in DIR_TO_VEC[d])
        front = (pos[0] + dx, pos[1] + dy)
        if front == target:
            return path
        cell = base.grid.get(*front)
        moves = [((pos, (d - 1) % 4), Actions.left), ((pos, (d + 1) % 4), Actions.right)]
        if cell is None or cell.can_overlap():
            moves.append(((front, d), Actions.forward))
        for state, action in moves:
            if state not in seen:
                seen.add(state)
                queue.append((state, [*path, int(action)]))
    raise AssertionError(f"cannot reach {target}")


def find(env: gym.Env, kind: str) -> tuple[int, int]:
    grid = env.unwrapped.grid
    for x in range(grid.width):
        for y in range(grid.height):
            cell = grid.get(x, y)
            if cell is not None and cell.type == kind:
                return (x, y)
    raise AssertionError(kind)


class Recorder:
    def __init__(self, env: gym.Env, seed: int) -> None:
        self.env = env
        self.obs, _ = env.reset(seed=seed)
        self.traj = Trajectory(env_id=str(env.spec.id if env.spec else "x"))
        self.done = False

    def act(self, actions: list[int]) -> None:
        for action in actions:
            assert not self.done
            nxt, reward, terminated, truncated, _ = self.env.step(action)
            self.traj.steps.append(
                Step(len(self.traj), self.obs, action, float(reward), terminated, truncated)
            )
            self.obs, self.done = nxt, terminated or truncated


def solve_doorkey(seed: int) -> tuple[Trajectory, str]:
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    rec = Recorder(env, seed)
    color = env.unwrapped.grid.get(*find(env, "key")).color
    rec.act([*plan_to_face(env, find(env, "key")), int(Actions.pickup)])
    rec.act([*plan_to_face(env, find(env, "door")), int(Actions.toggle)])
    rec.act([*plan_to_face(env, find(env, "goal")), int(Actions.forward)])
    assert rec.done and rec.traj.steps[-1].reward > 0
    return rec.traj, color


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_doorkey_mentions_key_door_and_goal(seed: int) -> None:
    traj, color = solve_doorkey(seed)
    text = MiniGridRenderer().render(traj)
    assert text.startswith("Mission: use the key to open the door and then get to the goal.")
    assert f"the agent picked up the {color} key." in text
    assert f"the agent unlocked and opened the {color} door." in text
    assert f"Step {len(traj)}: the agent reached the green goal square." in text
    assert re.search(rf"The episode ended at step {len(traj)} with reward 0\.\d\d\.$", text)
    assert "lava" not in text


def test_lavagap_mentions_lava() -> None:
    env = gym.make("MiniGrid-LavaGapS5-v0")
    rec = Recorder(env, 0)
    while not rec.done:
        rec.act([int(Actions.forward)])  # straight on, into the lava strip
    text = MiniGridRenderer().render(rec.traj)
    assert "The agent saw lava" in text
    assert f"Step {len(rec.traj)}: the agent walked into lava." in text
    assert text.endswith(f"The episode ended at step {len(rec.traj)} with reward 0.00.")


def test_lavagap_solved_passes_the_lava_and_reaches_the_goal() -> None:
    env = gym.make("MiniGrid-LavaGapS5-v0")
    rec = Recorder(env, 1)
    rec.act([*plan_to_face_avoiding_lava(env, find(env, "goal")), int(Actions.forward)])
    text = MiniGridRenderer().render(rec.traj)
    assert "walked into lava" not in text and "lava" in text
    assert "reached the green goal square" in text


def plan_to_face_avoiding_lava(env: gym.Env, target: tuple[int, int]) -> list[int]:
    base = env.unwrapped
    lava = [(x, y) for x in range(base.width) for y in range(base.height)
            if base.grid.get(x, y) is not None and base.grid.get(x, y).type == "lava"]
    saved = {pos: base.grid.get(*pos) for pos in lava}
    from minigrid.core.world_object import Wall

    for pos in lava:
        base.grid.set(*pos, Wall())
    try:
        return plan_to_face(env, target)
    finally:
        for pos, obj in saved.items():
            base.grid.set(*pos, obj)


def test_movement_is_collapsed_and_counted() -> None:
    env = gym.make("MiniGrid-Empty-8x8-v0")
    rec = Recorder(env, 0)
    right, left, forward = int(Actions.right), int(Actions.left), int(Actions.forward)
    rec.act([right, forward, left, forward, int(Actions.pickup)])
    text = MiniGridRenderer(actor="Naive_Explorer").render(rec.traj)
    assert text == (
        "This episode was explored by Naive_Explorer. Mission: get to the green goal square. "
        "Steps 1-5: the agent moved forward 2 times, turned 2 times and did nothing visible "
        "1 time. The episode had not ended yet."
    )
    rec.act([left, left, forward, forward])  # west to x=1, then into the wall
    text = MiniGridRenderer().render(rec.traj.fragment(5))
    assert "Steps 6-9: the agent moved forward 1 time, turned 2 times and bumped into " \
        "something 1 time." in text


def test_done_that_changes_nothing_is_counted_not_told() -> None:
    env = gym.make("MiniGrid-Empty-8x8-v0")
    rec = Recorder(env, 0)
    done, forward = int(Actions.done), int(Actions.forward)
    rec.act([done, forward, done, done])
    text = MiniGridRenderer().render(rec.traj)
    assert "declared" not in text
    assert "Steps 1-4: the agent moved forward 1 time and did nothing visible 3 times." in text
    # An env whose "done" ends the episode: that press is told.
    rec.traj.steps[-1].terminated = True
    text = MiniGridRenderer().render(rec.traj)
    assert text.endswith("Step 4: the agent declared it was done. The episode ended at step 4 "
                         "with reward 0.00.")


def test_bare_images_and_flat_observations() -> None:
    traj, _ = solve_doorkey(0)
    images = Trajectory("x", steps=[
        Step(s.index, s.observation["image"], s.action, s.reward, s.terminated, s.truncated)
        for s in traj.steps
    ])
    text = MiniGridRenderer().render(images)
    assert "picked up" in text and "Mission" not in text

    env = FlatObsWrapper(gym.make("MiniGrid-Empty-5x5-v0"))
    rec = Recorder(env, 0)
    rec.act([2, 2, 1, 2, 2])
    text = MiniGridRenderer().render(rec.traj)
    assert text.endswith("with reward 0.95.") and "moved forward" in text

    env = ImgObsWrapper(gym.make("MiniGrid-Empty-5x5-v0"))
    rec = Recorder(env, 0)
    rec.act([2, 2, 1, 2, 2])
    assert "reached the green goal square" in MiniGridRenderer().render(rec.traj)


def test_budget_is_kept() -> None:
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    rec = Recorder(env, 0)
    rng = np.random.default_rng(0)
    while not rec.done:
        rec.act([int(rng.integers(0, 6))])
    text = MiniGridRenderer(max_chars=200).render(rec.traj)
    assert len(text) <= 200
    full = MiniGridRenderer().render(rec.traj)
    assert len(full) > 200
    outcome = full[full.rindex(". ") + 2 :]
    assert outcome.startswith(("Time ran out", "The episode ended")) and text.endswith(outcome)


def test_registered_for_any_minigrid_env_but_not_the_delivery_world() -> None:
    from consent_gym.render.delivery import DeliveryRenderer

    assert isinstance(renderer_for(gym.make("MiniGrid-DoorKey-5x5-v0")), MiniGridRenderer)
    assert isinstance(renderer_for(gym.make("MiniGrid-LavaGapS5-v0")), MiniGridRenderer)
    assert isinstance(renderer_for(gym.make("consent_gym/DeliveryCurb-v0")), DeliveryRenderer)


def test_empty_trajectory() -> None:
    assert MiniGridRenderer().render(Trajectory("x")) == "Nothing happened yet."
    with pytest.raises(ValueError):
        MiniGridRenderer(max_chars=5)
