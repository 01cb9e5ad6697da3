"""Stable-Baselines3 integration."""
