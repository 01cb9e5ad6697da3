"""The renderer contract and the registry that picks a renderer for an env.

A renderer turns a :class:`~consent_gym.trajectory.Trajectory` into the text a judge reads.
Renderers are chosen, most specific first, by:

1. the ``renderer=`` argument the user passes to the wrapper;
2. a ``consent_renderer()`` method on the unwrapped env (an env that knows how to
   describe itself);
3. the registry: :func:`register_renderer` maps an env class to a renderer factory; the
   env's class hierarchy (MRO) is searched, so a subclass's renderer wins over its base's.
   A class may be named by its import path (``"highway_env.envs.common.abstract:AbstractEnv"``),
   so that an adapter for a package that is not installed (or not yet imported) costs nothing;
4. :class:`~consent_gym.render.narrative.NarrativeRenderer`, which tells any env's episode
   from what the env exposes (action names, ``info`` flags, costs and counters, events).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import gymnasium as gym

from consent_gym.trajectory import Trajectory


@runtime_checkable
class Renderer(Protocol):
    """Turns a trajectory into judge-readable text. Must be deterministic."""

    def render(self, trajectory: Trajectory) -> str:
        """Describe the trajectory in words."""
        ...


RendererFactory = Callable[[gym.Env], Renderer]
_REGISTRY: dict[type | str, RendererFactory] = {}


def class_path(cls: type) -> str:
    """``"module:QualName"``, the name :func:`register_renderer` accepts for a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_renderer(env_class: type | str, factory: RendererFactory) -> None:
    """Use ``factory(env)`` to build the renderer for envs of ``env_class`` (and subclasses).

    ``env_class`` is a class, or its path ``"package.module:ClassName"`` (see
    :func:`class_path`): a path never imports the package, so adapters for optional
    packages register without them.

    Example:
        >>> import gymnasium as gym
        >>> from gymnasium.envs.classic_control import CartPoleEnv
        >>> from consent_gym.render import GenericRenderer
        >>> register_renderer(CartPoleEnv, lambda env: GenericRenderer(max_chars=500))
        >>> type(renderer_for(gym.make("CartPole-v1"))).__name__
        'GenericRenderer'
        >>> unregister_renderer(CartPoleEnv)
    """
    if isinstance(env_class, str):
        module, _, name = env_class.partition(":")
        if not module or not name:
            raise ValueError(
                f"env_class path must look like 'package.module:ClassName', got {env_class!r}."
            )
    elif not isinstance(env_class, type):
        raise TypeError(
            f"env_class must be a class or a 'module:ClassName' path, got "
            f"{type(env_class).__name__}."
        )
    if not callable(factory):
        raise TypeError("factory must be callable: env -> Renderer.")
    _REGISTRY[env_class] = factory


def unregister_renderer(env_class: type | str) -> None:
    """Remove the registry entry for ``env_class`` (a ``KeyError`` names a missing one)."""
    if env_class not in _REGISTRY:
        name = env_class if isinstance(env_class, str) else env_class.__name__
        raise KeyError(f"no renderer registered for {name}.")
    del _REGISTRY[env_class]


def renderer_for(env: gym.Env) -> Renderer:
    """The renderer for ``env``: its own ``consent_renderer()``, the registry, or narrative."""
    from consent_gym.render.narrative import NarrativeRenderer

    base = env.unwrapped
    own = getattr(base, "consent_renderer", None)
    if callable(own):
        renderer = own()
        check_renderer(renderer)
        return renderer
    for cls in type(base).__mro__:
        factory = _REGISTRY.get(cls) or _REGISTRY.get(class_path(cls))
        if factory is not None:
            renderer = factory(env)
            check_renderer(renderer)
            return renderer
    return NarrativeRenderer.for_env(env)


def check_renderer(renderer: object) -> None:
    """Raise a ``TypeError`` unless ``renderer`` has a ``render(trajectory) -> str`` method."""
    if not isinstance(renderer, Renderer):
        raise TypeError(
            f"renderer must have a render(trajectory) -> str method, got "
            f"{type(renderer).__name__}; see consent_gym.render.NarrativeRenderer."
        )
