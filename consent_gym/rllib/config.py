"""``consent_config``: gate an RLlib ``AlgorithmConfig`` in one line.

::

    config = PPOConfig().environment("consent_gym/DeliveryCurb-v0")
    config = consent_config(config, partial(load_judge, "probe"), mode="zero")

It wraps the env in :class:`~consent_gym.ConsentRecorder` (:class:`RecordedEnv`), sets
``batch_mode="complete_episodes"`` (whole episodes reach the judge and the learner),
turns off RLlib's EnvRunner restarts (an error in the judge must stop training) and adds
:class:`~consent_gym.rllib.ConsentCallback` to the config's callbacks.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from ray import cloudpickle
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.tune.registry import register_env

from consent_gym.gate import ConsentSettings, Mode
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.recorder import ConsentRecorder, check_info_key
from consent_gym.render.base import Renderer, check_renderer
from consent_gym.rllib.callback import ConsentCallback


@dataclass(frozen=True)
class RecordedEnv:
    """A picklable env creator for RLlib: ``ConsentRecorder`` around the user's env.

    RLlib calls it with the ``EnvContext`` (``config.env_config``) in every EnvRunner,
    so each episode is rendered there, by the env's renderer, at its last step.

    Attributes:
        env: A Gymnasium id (made with ``gym.make(env, **env_config)``, as RLlib does)
            or an env creator / class called with the ``EnvContext``.
        renderer: How episodes are rendered (``None``: the env's registered renderer).
        info_key: The ``info`` key for the record.
        actor: Label of the explorer, passed to renderers.

    Example:
        >>> env = RecordedEnv("CartPole-v1")({})
        >>> type(env).__name__, env.env_id
        ('ConsentRecorder', 'CartPole-v1')
    """

    env: str | Callable[..., gym.Env]
    renderer: Renderer | None = None
    info_key: str = "consent"
    actor: str | None = None

    def __call__(self, env_config: Mapping[str, Any] | None = None) -> ConsentRecorder:
        """Build the env and wrap it."""
        if isinstance(self.env, str):
            inner = gym.make(self.env, **dict(env_config or {}))
        else:
            inner = self.env(env_config if env_config is not None else {})
        return ConsentRecorder(inner, self.renderer, info_key=self.info_key, actor=self.actor)


def register_recorded_env(recorded: RecordedEnv) -> str:
    """Register ``recorded`` with ``ray.tune.register_env``; the name to put in ``config.env``.

    RLlib's ``Algorithm`` accepts only a registered name or an env class as
    ``config.env``; the name carries a hash of the creator, so configs with different
    renderers or envs never share one.

    Example:
        >>> register_recorded_env(RecordedEnv("CartPole-v1")).startswith("consent:CartPole-v1:")
        True
    """
    payload = cloudpickle.dumps(recorded)
    label = recorded.env if isinstance(recorded.env, str) else getattr(
        recorded.env, "__name__", type(recorded.env).__name__)
    name = f"consent:{label}:{hashlib.sha256(payload).hexdigest()[:12]}"
    register_env(name, recorded)
    return name


def _check_env(env: object) -> None:
    if env is None:
        raise ValueError(
            "config has no env: call config.environment('Your-Env-v0') (or an env creator) "
            "before consent_config(config, judge_factory)."
        )
    if isinstance(env, str):
        try:
            gym.spec(env)
        except gym.error.Error as exc:
            raise ValueError(
                f"config.env={env!r} is not a Gymnasium id ({exc}); for an env registered "
                f"with ray.tune.register_env pass its creator instead: "
                f"config.environment(env=creator), then consent_config(config, ...)."
            ) from exc
    elif not callable(env):
        raise TypeError(f"config.env must be a Gymnasium id or an env creator, got {env!r}.")


def consent_config(
    config: AlgorithmConfig,
    judge_factory: Callable[[], Judge],
    mode: Mode = "zero",
    *,
    penalty: float = -100.0,
    audit_log: str | os.PathLike[str] | None = None,
    on_judge_error: OnJudgeError = "veto",
    info_key: str = "consent",
    renderer: Renderer | None = None,
    actor: str | None = None,
    wrap_env: bool = True,
) -> AlgorithmConfig:
    """Gate ``config`` (new API stack) with the judge that ``judge_factory`` builds.

    Changes ``config`` in place and returns it (RLlib's own style):

    - ``wrap_env=True``: ``config.env`` becomes the registered name of a
      :class:`RecordedEnv` around it (:func:`register_recorded_env`; give ``False`` if
      your env already returns a ``ConsentRecorder``);
    - ``batch_mode="complete_episodes"``: RLlib's default ``"truncate_episodes"`` would
      train on an episode's first chunks before it ends, so a verdict on the whole
      episode could not be honoured;
    - ``restart_failed_env_runners=False`` and ``ignore_env_runner_failures=False``:
      otherwise RLlib only logs an EnvRunner's exception, so a
      :class:`~consent_gym.judges.FrozenJudgeError` would not stop training;
    - :class:`~consent_gym.rllib.ConsentCallback` is added after the config's callbacks.

    Args:
        config: An ``AlgorithmConfig`` (e.g. ``PPOConfig()``) with its env set.
        judge_factory: A picklable callable returning the judge, called once in each
            EnvRunner (e.g. ``functools.partial(consent_gym.judge_registry.load_judge,
            "probe")``, the default judge). Not a judge: a model judge would be pickled
            into every worker.
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"``.
        penalty: What a vetoed episode's rewards sum to in ``"penalty"`` mode, on the
            scale of the env's returns.
        audit_log: A file path every EnvRunner appends its verdicts to.
        on_judge_error: ``"veto"`` (default, fail closed), ``"raise"`` or ``"approve"``.
        info_key: The ``info`` key the recorder writes.
        renderer, actor: For :class:`~consent_gym.ConsentRecorder`.
        wrap_env: Wrap ``config.env`` in :class:`RecordedEnv`.

    Raises:
        TypeError: ``judge_factory`` is a judge, not callable, or cannot be pickled;
            ``config`` is no ``AlgorithmConfig``.
        ValueError: the old API stack, no env, a bad ``mode`` or ``penalty``.

    Example:
        >>> from ray.rllib.algorithms.ppo import PPOConfig
        >>> from consent_gym.judge_registry import load_judge
        >>> config = consent_config(PPOConfig().environment("CartPole-v1"),
        ...                         functools.partial(load_judge, "rule"), mode="block")
        >>> config.batch_mode, config.env.startswith("consent:CartPole-v1:")
        ('complete_episodes', True)
    """
    prepare_config(config, judge_factory, mode, penalty=penalty, on_judge_error=on_judge_error,
                   info_key=info_key, renderer=renderer, actor=actor, wrap_env=wrap_env)
    callback = functools.partial(
        ConsentCallback, judge_factory=judge_factory, mode=mode, penalty=penalty,
        audit_log=audit_log, on_judge_error=on_judge_error, info_key=info_key,
    )
    existing = [c for c in _as_list(config.callbacks_class) if c is not RLlibCallback]
    # RLlib calls each entry with no arguments (``cls()``); a partial is such a callable.
    callbacks: Any = [*existing, callback] if existing else callback
    config.callbacks(callbacks)
    return config


def prepare_config(
    config: AlgorithmConfig,
    judge_factory: Callable[[], Judge],
    mode: Mode = "zero",
    *,
    penalty: float = -100.0,
    on_judge_error: OnJudgeError = "veto",
    info_key: str = "consent",
    renderer: Renderer | None = None,
    actor: str | None = None,
    wrap_env: bool = True,
) -> None:
    """What gating needs whichever process judges: check the arguments, wrap the env in
    :class:`RecordedEnv`, sample whole episodes and let judge errors stop training.

    Shared by :func:`consent_config` (the EnvRunner callback) and
    :func:`consent_gym.rllib.learner_connector.consent_learner_config` (the Learner).
    Raises as :func:`consent_config` documents.
    """
    if not isinstance(config, AlgorithmConfig):
        raise TypeError(
            f"config must be an RLlib AlgorithmConfig (e.g. PPOConfig()), got "
            f"{type(config).__name__}."
        )
    if not config.enable_env_runner_and_connector_v2:
        raise ValueError(
            "consent_config needs RLlib's new API stack (EnvRunners, episodes); remove "
            "config.api_stack(enable_env_runner_and_connector_v2=False)."
        )
    is_class = isinstance(judge_factory, type)
    if not is_class and callable(getattr(judge_factory, "judge_batch", None)):
        raise TypeError(
            "judge_factory is a judge; pass a picklable callable that builds one in each "
            "EnvRunner, e.g. functools.partial(consent_gym.judge_registry.load_judge, 'llm') "
            "or lambda: MyJudge(...)."
        )
    if not callable(judge_factory):
        raise TypeError(f"judge_factory must be callable, got {judge_factory!r}.")
    try:
        cloudpickle.dumps(judge_factory)
    except Exception as exc:
        raise TypeError(
            f"judge_factory cannot be pickled to the EnvRunners ({exc!r}); use a "
            f"module-level function or functools.partial of one."
        ) from exc
    ConsentSettings(None, mode, penalty, None, on_judge_error, info_key)  # checks them now
    check_info_key(info_key)
    if renderer is not None:
        check_renderer(renderer)
    if wrap_env:
        env = config.env
        _check_env(env)
        assert env is not None  # for mypy: _check_env refused None
        config.environment(env=register_recorded_env(
            RecordedEnv(env, renderer, info_key, actor)))
    config.env_runners(batch_mode="complete_episodes")
    config.fault_tolerance(restart_failed_env_runners=False, ignore_env_runner_failures=False)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
