"""``ConsentRecorder``: records and renders each episode for a learner that judges it.

The record-only half of consent gating. Rewards pass through unchanged; at each episode's
last step the recorded trajectory is rendered to text and handed on in
``info["consent"]`` (with ``"pending": True``), so a learner integration (the SB3 buffers,
:mod:`consent_gym.rollout`, RLlib) judges it before its update. Learners never call back
into the env: everything they need arrives with the step.
:class:`~consent_gym.ConsentWrapper` is the recorder that also judges and releases.
"""

from __future__ import annotations

from math import isfinite
from typing import Any, SupportsFloat

import gymnasium as gym

from consent_gym.audit import text_sha256
from consent_gym.render.base import Renderer, check_renderer, renderer_for
from consent_gym.trajectory import StepRow, Trajectory, events_from_info


def check_info_key(info_key: object) -> None:
    """Raise a ``ValueError`` unless ``info_key`` is a non-empty string."""
    if not isinstance(info_key, str) or not info_key:
        raise ValueError("info_key must be a non-empty string.")


def episode_record(
    trajectory: Trajectory, text: str, episode_return: float | None = None
) -> dict[str, Any]:
    """What ``info["consent"]`` says of an ended episode before anyone judged it
    (``episode_return``: the trajectory's total reward, when already summed)."""
    return {
        "env_id": trajectory.env_id,
        "episode_index": trajectory.episode_index,
        "length": len(trajectory),
        "episode_return": (
            trajectory.total_reward if episode_return is None else episode_return
        ),
        "text": text,
        "text_sha256": text_sha256(text),
        "pending": True,
    }


class ConsentRecorder(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Records each episode and puts its text in ``info[info_key]`` at its last step.

    At an episode's last step ``info[info_key]`` holds ``env_id``, ``episode_index``, ``length``,
    ``episode_return`` (the env's own), ``text``, ``text_sha256`` and ``pending=True``
    (nobody has judged it yet). Rewards are never changed.

    Args:
        env: The environment.
        renderer: Turns the recorded episode into text; default: the env's own renderer
            from :func:`~consent_gym.render.renderer_for`.
        info_key: The ``info`` key for the record; a collision with the env's own key is
            an error.
        actor: Optional label of the explorer, passed to renderers (``"Naive_Explorer"``).

    Example:
        >>> import gymnasium as gym
        >>> env = ConsentRecorder(gym.make("CartPole-v1"))
        >>> _ = env.reset(seed=0)
        >>> done = False
        >>> while not done:
        ...     _, reward, terminated, truncated, info = env.step(0)
        ...     done = terminated or truncated
        >>> info["consent"]["pending"], info["consent"]["length"] > 0
        (True, True)
    """

    def __init__(
        self,
        env: gym.Env,
        renderer: Renderer | None = None,
        *,
        info_key: str = "consent",
        actor: str | None = None,
    ) -> None:
        if not isinstance(env, gym.Env):
            raise TypeError(
                f"env must be a gymnasium.Env, got {type(env).__name__}; create one with "
                f"gymnasium.make(...). For a vector env use consent_gym.ConsentVectorWrapper, "
                f"or wrap each sub-env: gymnasium.make_vec(id, vectorization_mode='sync', "
                f"wrappers=[{type(self).__name__}]) or SB3's "
                f"make_vec_env(id, wrapper_class={type(self).__name__})."
            )
        check_info_key(info_key)
        if renderer is not None:
            check_renderer(renderer)
        if type(self) is ConsentRecorder:  # subclasses record their own arguments
            gym.utils.RecordConstructorArgs.__init__(
                self, renderer=renderer, info_key=info_key, actor=actor
            )
        gym.Wrapper.__init__(self, env)
        self.renderer: Renderer = renderer if renderer is not None else renderer_for(env)
        self.info_key = info_key
        self.actor = actor
        spec = env.spec
        self.env_id: str = spec.id if spec is not None else type(env.unwrapped).__name__
        self.episode_count = 0
        #: Whether steps that do not end the episode pay 0 (a deferring subclass sets it).
        self.withhold_running_rewards = False
        # The running episode as plain rows (cheap per step); None outside an episode.
        self._rows: list[StepRow] | None = None
        self._finished: Trajectory | None = None  # the last episode, once it ended
        self._last_obs: Any = None

    @property
    def trajectory(self) -> Trajectory | None:
        """The running episode so far (a snapshot), else the last finished one, else None."""
        if self._rows is not None:
            return Trajectory.from_rows(
                self.env_id, self.episode_count, list(self._rows), actor=self.actor
            )
        return self._finished

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and start recording a new episode (an unfinished one is dropped)."""
        obs, info = super().reset(seed=seed, options=options)
        if self._rows:  # an unfinished episode still counts, so indices match the log
            self.episode_count += 1
        self._rows = []
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and record; at episode end render and report (see :meth:`end_episode`)."""
        # The hot path of every gated env: one tuple per step; Steps are built at the end.
        rows = self._rows
        if rows is None:
            raise gym.error.ResetNeeded(
                f"{type(self).__name__}: call reset() before step() (and after an episode ends)."
            )
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward_f = float(reward)
        if not isfinite(reward_f):
            raise ValueError(
                f"{self.env_id} returned reward {reward!r} at step {len(rows)}; consent "
                f"gating needs finite rewards to release exact returns. Fix the env, or clip "
                f"with gymnasium.wrappers.TransformReward inside {type(self).__name__}."
            )
        rows.append(
            (self._last_obs, action, reward_f,
             events_from_info(info) if "events" in info else (), info)
        )
        self._last_obs = obs
        if not (terminated or truncated):
            # The hot path: mid-episode rewards pass through unless a subclass withholds them.
            return (obs, 0.0 if self.withhold_running_rewards else reward_f, terminated,
                    truncated, info)
        if self.info_key in info:
            raise ValueError(
                f"info already has the key {self.info_key!r}; pass another info_key= to "
                f"{type(self).__name__} so the env's own information is not overwritten."
            )
        self._rows = None
        trajectory = Trajectory.from_rows(
            self.env_id, self.episode_count, rows, terminated=terminated, truncated=truncated,
            actor=self.actor,
        )
        self._finished = trajectory
        text = self.renderer.render(trajectory)
        self.episode_count += 1
        last_reward, info[self.info_key] = self.end_episode(trajectory, text, reward_f)
        return obs, last_reward, terminated, truncated, info

    def end_episode(
        self, trajectory: Trajectory, text: str, last_reward: float
    ) -> tuple[float, dict[str, Any]]:
        """The reward of the episode's last step and its ``info`` record (pending here)."""
        return last_reward, episode_record(trajectory, text)

    def render_episode(self, start: int = 0) -> str:
        """The text of the current (possibly unfinished) episode from step ``start`` on."""
        trajectory = self.trajectory
        if trajectory is None:
            raise gym.error.ResetNeeded(
                f"{type(self).__name__}: no episode recorded yet; call reset()."
            )
        return self.renderer.render(trajectory.fragment(start))
