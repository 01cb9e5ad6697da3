"""Renderers turn a recorded episode into the text a judge reads.

Every renderer and its registration lives in this package: importing it registers the
renderers of the env families it knows (:mod:`consent_gym.render.minigrid` for any MiniGrid
env, :mod:`consent_gym.render.delivery` for the delivery world); other envs get
:class:`GenericRenderer` unless they register their own with :func:`register_renderer`.
"""

# The family modules register their renderers on import.
import consent_gym.render.delivery
import consent_gym.render.minigrid  # noqa: F401
from consent_gym.render.base import (
    Renderer,
    check_renderer,
    register_renderer,
    renderer_for,
    unregister_renderer,
)
from consent_gym.render.generic import GenericRenderer

__all__ = [
    "GenericRenderer",
    "Renderer",
    "check_renderer",
    "register_renderer",
    "renderer_for",
    "unregister_renderer",
]
