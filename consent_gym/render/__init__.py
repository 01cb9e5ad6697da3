"""Renderers turn a recorded episode into the text a judge reads.

Every renderer and its registration lives in this package: importing it registers the
renderers of the env families it knows (:mod:`consent_gym.render.minigrid` for any MiniGrid
env, :mod:`consent_gym.render.delivery` for the delivery world, and adapters for other
families by class path in :mod:`consent_gym.render.families`). The default for an env with
no renderer of its own is :class:`NarrativeRenderer`; add meaning in one line with
``NarrativeRenderer.for_env(env, actions=[...], info={...})``.
"""

# The family modules register their renderers on import.
import consent_gym.render.delivery
import consent_gym.render.families
import consent_gym.render.minigrid  # noqa: F401
from consent_gym.render.base import (
    Renderer,
    check_renderer,
    class_path,
    register_renderer,
    renderer_for,
    unregister_renderer,
)
from consent_gym.render.completion import CompletionRenderer
from consent_gym.render.generic import GenericRenderer
from consent_gym.render.narrative import Meaning, NarrativeRenderer

__all__ = [
    "CompletionRenderer",
    "GenericRenderer",
    "Meaning",
    "NarrativeRenderer",
    "Renderer",
    "check_renderer",
    "class_path",
    "register_renderer",
    "renderer_for",
    "unregister_renderer",
]
