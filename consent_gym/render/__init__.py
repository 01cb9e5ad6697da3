"""Renderers turn a recorded episode into the text a judge reads.

The default for an env with no renderer of its own is :class:`NarrativeRenderer`; add
meaning in one line with ``NarrativeRenderer.for_env(env, actions=[...], info={...})``.
"""

import consent_gym.render.families  # noqa: F401  (registers the env-family adapters by path)
from consent_gym.render.base import (
    Renderer,
    check_renderer,
    class_path,
    register_renderer,
    renderer_for,
    unregister_renderer,
)
from consent_gym.render.generic import GenericRenderer
from consent_gym.render.narrative import Meaning, NarrativeRenderer

__all__ = [
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
