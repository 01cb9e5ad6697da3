"""One-argument gating: :func:`consent_kwargs` and :func:`make_consent_vec_env`."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from consent_gym.audit import AuditLog
from consent_gym.gate import ConsentSettings, ConsentStats, Mode
from consent_gym.judge_pipeline import JudgePipeline
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.recorder import ConsentRecorder
from consent_gym.render.base import Renderer
from consent_gym.sb3.replay import ConsentDictReplayBuffer, ConsentReplayBuffer
from consent_gym.sb3.rollout import ConsentDictRolloutBuffer, ConsentRolloutBuffer

_OFF_POLICY_NAMES = {"DQN", "QRDQN", "SAC", "TD3", "DDPG", "TQC", "CROSSQ"}


def _is_off_policy(algo: type | str | None) -> bool:
    if algo is None:
        return False
    if isinstance(algo, str):
        return algo.upper() in _OFF_POLICY_NAMES
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    if isinstance(algo, type) and issubclass(algo, OffPolicyAlgorithm):
        return True
    return getattr(algo, "__name__", "").upper() in _OFF_POLICY_NAMES


def consent_kwargs(
    judge: Judge,
    mode: Mode = "zero",
    *,
    algo: type | str | None = None,
    env: gym.Env | VecEnv | None = None,
    penalty: float = -100.0,
    audit_log: AuditLog | str | os.PathLike[str] | None = None,
    on_judge_error: OnJudgeError = "veto",
    info_key: str = "consent",
    max_carry_steps: int | None = None,
    stats: ConsentStats | None = None,
    pipeline: JudgePipeline | bool = False,
) -> dict[str, Any]:
    """The keyword arguments that gate an SB3 algorithm with ``judge``.

    On-policy (PPO, A2C; the default): ``rollout_buffer_class`` and
    ``rollout_buffer_kwargs``. Off-policy (``algo=DQN``, SAC, TD3, ...):
    ``replay_buffer_class`` and ``replay_buffer_kwargs``. Train with
    ``callback=ConsentCallback()``.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge`.
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"``. ``"block"`` learns
            nothing from a vetoed episode, not even to avoid it: on DeliveryCurb it does
            not stop harm where ``"zero"`` does (``docs/sb3.md``).
        algo: The algorithm class or name; decides rollout vs replay buffer.
        env: Optional; picks the ``Dict`` buffer variant explicitly from its observation
            space (the plain classes also switch to it by themselves).
        penalty: Last-step reward of a vetoed piece in ``"penalty"`` mode.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog` for every verdict.
        on_judge_error: ``"veto"`` (fail-closed default), ``"raise"`` or ``"approve"``.
        info_key: The ``info`` key the recorder writes.
        max_carry_steps: On-policy: the most held-back steps kept per running episode
            (see :class:`~consent_gym.sb3.ConsentRolloutBuffer`); ``None``: all.
        stats: Where the buffer's decisions are counted (default: a fresh
            :class:`~consent_gym.gate.ConsentStats`), e.g. one with ``history=True``.
        pipeline: Pipelined judging (``True`` or a
            :class:`~consent_gym.judge_pipeline.JudgePipeline`): each episode is sent to
            the judge as it ends, while the rollout goes on, and the buffer's decision
            awaits only the verdicts still in flight. Same verdicts, same update.

    Example:
        >>> from stable_baselines3 import DQN
        >>> from consent_gym.judges import RuleJudge
        >>> judge = RuleJudge(lambda text: "pedestrian" not in text, name="no-peds")
        >>> kwargs = consent_kwargs(judge, mode="zero")
        >>> kwargs["rollout_buffer_class"].__name__, kwargs["rollout_buffer_kwargs"]["consent"].mode
        ('ConsentRolloutBuffer', 'zero')
        >>> sorted(consent_kwargs(judge, algo=DQN))
        ['replay_buffer_class', 'replay_buffer_kwargs']
    """
    settings = ConsentSettings(
        judge, mode=mode, penalty=penalty, audit_log=audit_log,
        on_judge_error=on_judge_error, info_key=info_key, pipeline=pipeline,
    )
    is_dict = env is not None and isinstance(env.observation_space, spaces.Dict)
    kwargs: dict[str, Any] = {"consent": settings}
    if stats is not None:
        kwargs["stats"] = stats
    if _is_off_policy(algo):
        replay = ConsentDictReplayBuffer if is_dict else ConsentReplayBuffer
        return {"replay_buffer_class": replay, "replay_buffer_kwargs": kwargs}
    rollout = ConsentDictRolloutBuffer if is_dict else ConsentRolloutBuffer
    if max_carry_steps is not None:
        kwargs["max_carry_steps"] = max_carry_steps
    return {"rollout_buffer_class": rollout, "rollout_buffer_kwargs": kwargs}


def wrap_for_consent(
    env: gym.Env,
    renderer: Renderer | None = None,
    actor: str | None = None,
    info_key: str = "consent",
    inner_wrapper: Callable[..., gym.Env] | None = None,
    inner_kwargs: dict[str, Any] | None = None,
) -> ConsentRecorder:
    """``ConsentRecorder(env)``, optionally around ``inner_wrapper(env)``."""
    if inner_wrapper is not None:
        env = inner_wrapper(env, **(inner_kwargs or {}))
    return ConsentRecorder(env, renderer, info_key=info_key, actor=actor)


def make_consent_vec_env(
    env_id: str | Callable[..., gym.Env],
    n_envs: int = 1,
    seed: int | None = None,
    *,
    vec_env_cls: type[DummyVecEnv | SubprocVecEnv] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    wrapper_class: Callable[..., gym.Env] | None = None,
    wrapper_kwargs: dict[str, Any] | None = None,
    renderer: Renderer | None = None,
    actor: str | None = None,
    info_key: str = "consent",
    monitor_dir: str | None = None,
    vec_env_kwargs: dict[str, Any] | None = None,
) -> VecEnv:
    """SB3's ``make_vec_env`` with every sub-env wrapped for the consent buffers.

    Each sub-env is ``ConsentRecorder(wrapper_class(Monitor(gym.make(env_id))))``: rewards
    pass through undelayed, and each episode is rendered for the learner's judge.

    Example:
        >>> venv = make_consent_vec_env("CartPole-v1", n_envs=2, seed=0)
        >>> venv.env_is_wrapped(ConsentRecorder)
        [True, True]
        >>> venv.close()
    """
    return make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=env_kwargs,
        monitor_dir=monitor_dir,
        wrapper_class=partial(
            wrap_for_consent, renderer=renderer, actor=actor, info_key=info_key,
            inner_wrapper=wrapper_class, inner_kwargs=wrapper_kwargs,
        ),
        vec_env_cls=vec_env_cls,
        vec_env_kwargs=vec_env_kwargs,
    )
