"""Tiny deterministic envs whose observations say which episodes a judge will veto."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from consent_gym import ConsentRecorder
from consent_gym.judges import RuleJudge, Verdict
from consent_gym.render import GenericRenderer

MARKER = "MARKER"


def marker_judge() -> RuleJudge:
    """Vetoes exactly the texts that mention the marker event."""
    return RuleJudge(lambda text: MARKER not in text, name="no-marker")


class MarkedEnv(gym.Env):
    """Episodes follow fixed cycles of lengths, badness and endings; obs = (bad, t, serial).

    A *bad* episode reports a ``MARKER`` event (at every step, or only at ``marker_step``),
    pays ``2`` per step instead of ``1``, and has ``obs[0] == 1``. Episode ``k`` lasts
    ``lengths[k % len(lengths)]`` steps and ends truncated when ``truncate[k % ...]`` is
    true, terminated otherwise. Actions are ignored.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        lengths: Sequence[int] = (3, 5, 4, 7, 6),
        bad: Sequence[bool] = (False, True, False, True, True, False),
        truncate: Sequence[bool] = (False, True, True),
        marker_step: int | None = None,
        offset: int = 0,
        dict_obs: bool = False,
    ) -> None:
        self.lengths, self.bad_cycle, self.truncate = list(lengths), list(bad), list(truncate)
        self.marker_step = marker_step
        self.serial = offset - 1
        self.dict_obs = dict_obs
        box = spaces.Box(0.0, 1000.0, shape=(3,), dtype=np.float32)
        if dict_obs:
            self.observation_space: spaces.Space = spaces.Dict(
                {"state": box, "bad": spaces.Discrete(2)}
            )
        else:
            self.observation_space = box
        self.action_space = spaces.Discrete(2)
        self.t = 0
        self.bad = False

    def _obs(self) -> Any:
        vec = np.array([float(self.bad), self.t, self.serial % 1000], dtype=np.float32)
        if self.dict_obs:
            return {"state": vec, "bad": int(self.bad)}
        return vec

    def consent_renderer(self) -> GenericRenderer:
        # the tests read the numeric listing's step numbers ("(from step 5)", "Ended: ...")
        return GenericRenderer()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.serial += 1
        self.t = 0
        self.bad = bool(self.bad_cycle[self.serial % len(self.bad_cycle)])
        return self._obs(), {}

    def step(self, action: Any):
        self.t += 1
        marked = self.bad and (self.marker_step is None or self.t == self.marker_step)
        events = [{"type": MARKER}] if marked else []
        length = self.lengths[self.serial % len(self.lengths)]
        end = self.t >= length
        truncated = end and bool(self.truncate[self.serial % len(self.truncate)])
        reward = 2.0 if self.bad else 1.0
        return self._obs(), reward, end and not truncated, truncated, {"events": events}


def make_marked(offset: int = 0, **kwargs: Any) -> gym.Env:
    """A MarkedEnv wrapped for the consent buffers."""
    return ConsentRecorder(MarkedEnv(offset=offset, **kwargs))


class RecordingJudge:
    """Wraps a judge and keeps every batch of texts it was asked about."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.judge_id = f"recording:{inner.judge_id}"
        self.batches: list[list[str]] = []

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        self.batches.append(list(texts))
        return self.inner.judge_batch(texts)
