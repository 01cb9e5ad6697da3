"""Renderers turn a recorded episode into the text a judge reads."""

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
