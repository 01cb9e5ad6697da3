"""Small deterministic environments and judges used across the tests."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from consent_gym import Step, Trajectory
from consent_gym.judges import JudgePanel, PanelMember, RuleJudge, Verdict


class CountingEnv(gym.Env):
    """Each step pays ``reward``; episodes last ``length`` steps; obs = (env tag, step).

    ``harm_at`` makes the env report a ``hit_pedestrian`` event at that step, so rule
    judges can veto exactly those episodes.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self, length: int = 5, reward: float = 1.0, tag: int = 0, harm_at: int | None = None
    ):
        self.length, self.reward, self.tag, self.harm_at = length, reward, tag, harm_at
        self.observation_space = spaces.Box(0, 1000, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.tag, self.t], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        events = [{"type": "hit_pedestrian"}] if self.harm_at == self.t else []
        return self._obs(), self.reward, self.t >= self.length, False, {"events": events}


class DictObsEnv(gym.Env):
    """A Dict observation space (position and a flag) with a random walk."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {"pos": spaces.Box(-10, 10, shape=(2,), dtype=np.float32), "flag": spaces.Discrete(2)}
        )
        self.action_space = spaces.Discrete(4)
        self.pos = np.zeros(2, dtype=np.float32)
        self.t = 0

    def _obs(self) -> dict[str, Any]:
        return {"pos": self.pos.copy(), "flag": int(self.t % 2)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1, 1, size=2).astype(np.float32)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        moves = np.array([[0, 1], [1, 0], [0, -1], [-1, 0]], dtype=np.float32)
        self.pos = np.clip(self.pos + moves[int(action)], -10, 10)
        self.t += 1
        return self._obs(), float(-np.abs(self.pos).sum()), False, self.t >= 8, {}


class RebuildsItsSpacesEnv(gym.Env):
    """A walk on a line whose action space is a new, unseeded object after every reset, as
    highway-env's envs build theirs."""

    observation_space = spaces.Box(-100.0, 100.0, (1,), np.float32)

    def __init__(self) -> None:
        self.action_space = spaces.Discrete(5)
        self.x = 0.0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.action_space = spaces.Discrete(5)
        self.x, self.t = 0.0, 0
        return np.array([self.x], np.float32), {}

    def step(self, action: Any):
        self.x += float(action) - 2.0
        self.t += 1
        return np.array([self.x], np.float32), 0.0, False, self.t >= 12, {}


class NaNRewardEnv(CountingEnv):
    """Pays NaN at step 2."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, (float("nan") if self.t == 2 else reward), terminated, truncated, info


class RecordingJudge:
    """Approves everything and remembers every text it was shown."""

    judge_id = "recording"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def judge_batch(self, texts):
        self.texts.extend(texts)
        return [Verdict(True, 1.0, self.judge_id) for _ in texts]


class WrongCountJudge:
    """Returns one verdict too many: a broken judge."""

    judge_id = "wrong-count"

    def judge_batch(self, texts):
        return [Verdict(True, 1.0, self.judge_id) for _ in range(len(texts) + 1)]


class RaisingJudge:
    judge_id = "raising"

    def judge_batch(self, texts):
        raise RuntimeError("out of memory")


class NaNJudge:
    judge_id = "nan"

    def judge_batch(self, texts):
        return [Verdict(True, float("nan"), self.judge_id) for _ in texts]


def run_episode(env: gym.Env, seed: int = 0, action: Any = None) -> tuple[list[float], dict]:
    """One episode with ``action`` (random when ``None``): the rewards and the last info."""
    env.reset(seed=seed)
    rewards: list[float] = []
    done, info = False, {}
    while not done:
        a = env.action_space.sample() if action is None else action
        _, r, terminated, truncated, info = env.step(a)
        rewards.append(float(r))
        done = terminated or truncated
    return rewards, info


def assert_rows_render_like_steps(wrapper: Any, renderers: list[Any], seeds: range) -> None:
    """After every step, the wrapper's row-backed trajectory (and a fragment of it) renders
    exactly like the same steps given as ``Step`` objects, under every renderer."""
    from consent_gym.trajectory import Trajectory

    wrapper.action_space.seed(0)
    for seed in seeds:
        wrapper.reset(seed=seed)
        done = False
        while not done:
            *_, terminated, truncated, _ = wrapper.step(wrapper.action_space.sample())
            done = terminated or truncated
            rows = wrapper.trajectory
            assert rows is not None
            for start in {0, len(rows) // 2}:
                steps = Trajectory(rows.env_id, rows.episode_index,
                                   list(rows.fragment(start).steps), start_index=start)
                for renderer in renderers:
                    assert renderer.render(rows.fragment(start)) == renderer.render(steps)


# --- judge panels: fixed judges, two perceptions of a box, a box episode ---------------


class FixedJudge:
    """Always answers ``approved`` with score ``p``."""

    def __init__(self, approved: bool, p: float | None = None, name: str = "") -> None:
        self.approved = approved
        self.p = (1.0 if approved else 0.0) if p is None else p
        self.judge_id = f"fixed:{name or ('yes' if approved else 'no')}"

    def judge_batch(self, texts):
        return [Verdict(self.approved, self.p, self.judge_id, "fixed") for _ in texts]


class Surface:
    """Sees boxes, never what is inside."""

    perception = "surface"

    def __init__(self) -> None:
        self.calls = 0

    def render(self, trajectory: Trajectory) -> str:
        self.calls += 1
        parts = []
        for step, event in trajectory.events:
            if event["type"] == "hit_box":
                parts.append(f"Step {step + 1}: the car hit a box.")
        return " ".join(parts) or "The car drove on the road."


class Informed(Surface):
    """Knows what each box held."""

    perception = "informed"

    def render(self, trajectory: Trajectory) -> str:
        self.calls += 1
        parts = []
        for step, event in trajectory.events:
            if event["type"] == "hit_box":
                inside = "a person inside" if event["contents"] == "person" else "nothing inside"
                parts.append(f"Step {step + 1}: the car hit a box with {inside}.")
        return " ".join(parts) or "The car drove on the road."


def box_episode(contents: str, index: int = 0) -> Trajectory:
    hit = {"type": "hit_box", "contents": contents}
    steps = [
        Step(0, None, 0, -0.1),
        Step(1, None, 0, -0.1, events=(hit,)),
        Step(2, None, 0, 1.0, terminated=True),
    ]
    return Trajectory("Boxes-v0", episode_index=index, steps=steps)


#: Vetoes any text that mentions a person.
no_people = RuleJudge(lambda text: "person" not in text, name="no-people")


def perception_panel(policy="reference"):
    surface, informed = Surface(), Informed()
    panel = JudgePanel(
        [PanelMember(no_people, surface), PanelMember(no_people, informed)], policy=policy
    )
    return panel, surface, informed


class FixedVerdictJudge:
    """Answers every text with the same verdict (any object: malformed ones included)."""

    judge_id = "fixed"

    def __init__(self, verdict: Any) -> None:
        self.verdict = verdict

    def judge_batch(self, texts):
        return [self.verdict for _ in texts]


def _malformed_verdicts() -> dict[str, Any]:
    ok = Verdict(True, 0.9, "member")
    return {
        "approved-and-failed": Verdict(True, 0.9, "j", failed=True),
        "approved-and-failed-nan": Verdict(True, float("nan"), "j", failed=True),
        "approved-str-no": Verdict("no", 0.9, "j"),  # type: ignore[arg-type]
        "approved-str-yes": Verdict("yes", 0.9, "j"),  # type: ignore[arg-type]
        "approved-int-1": Verdict(1, 0.9, "j"),  # type: ignore[arg-type]
        "approved-none": Verdict(None, 0.9, "j"),  # type: ignore[arg-type]
        "approved-array": Verdict(np.array([True]), 0.9, "j"),  # type: ignore[arg-type]
        "failed-str": Verdict(True, 0.9, "j", failed="no"),  # type: ignore[arg-type]
        "failed-numpy-true": Verdict(True, 0.9, "j", failed=np.bool_(True)),  # type: ignore[arg-type]
        "flagged-str": Verdict(True, 0.9, "j", flagged="no"),  # type: ignore[arg-type]
        "judge-id-int": Verdict(True, 0.9, 42),  # type: ignore[arg-type]
        "judge-id-none": Verdict(True, 0.9, None),  # type: ignore[arg-type]
        "reason-none": Verdict(True, 0.9, "j", reason=None),  # type: ignore[arg-type]
        "p-nan": Verdict(True, float("nan"), "j"),
        "p-inf": Verdict(True, float("inf"), "j"),
        "p-minus-inf": Verdict(True, float("-inf"), "j"),
        "p-above-one": Verdict(True, 1.5, "j"),
        "p-negative": Verdict(True, -0.1, "j"),
        "p-str": Verdict(True, "0.9", "j"),  # type: ignore[arg-type]
        "p-none": Verdict(True, None, "j"),  # type: ignore[arg-type]
        "p-bool": Verdict(True, True, "j"),  # type: ignore[arg-type]
        "members-not-verdicts": Verdict(True, 0.9, "j", members=("yes",)),  # type: ignore[arg-type]
        "members-a-list": Verdict(True, 0.9, "j", members=[ok]),  # type: ignore[arg-type]
        "member-malformed": Verdict(
            True, 0.9, "j", members=(ok, Verdict("no", 0.9, "m"))  # type: ignore[arg-type]
        ),
        "member-approved-and-failed": Verdict(
            True, 0.9, "j", members=(Verdict(True, 0.9, "m", failed=True),)
        ),
        "failed-p-str": Verdict(False, "nan", "j", failed=True),  # type: ignore[arg-type]
        "not-a-verdict-true": True,
        "not-a-verdict-dict": {"approved": True, "p_acceptable": 1.0, "judge_id": "j"},
        "not-a-verdict-none": None,
    }


#: Verdict shapes a buggy judge could return; every one must fail closed.
MALFORMED_VERDICTS: dict[str, Any] = _malformed_verdicts()


class FsyncSpy:
    """Stands in for ``os.fsync`` (install with ``monkeypatch.setattr(os, "fsync", spy)``).

    Each fsync of the audit log at ``path`` appends ``(records in the log, snapshot())`` to
    ``calls`` and then really syncs, so a test can check *when* the log became durable
    relative to what the learner saw (a released reward, a buffer's edit).
    """

    def __init__(self, path: Any, snapshot: Any = None) -> None:
        import os

        self.path = path
        self.snapshot = snapshot if snapshot is not None else (lambda: None)
        self.calls: list[tuple[int, Any]] = []
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        import os

        if os.path.exists(self.path) and os.fstat(fd).st_ino == os.stat(self.path).st_ino:
            with open(self.path, encoding="ascii") as f:
                records = sum(1 for line in f if line.strip())
            self.calls.append((records, self.snapshot()))
        self._real(fd)
