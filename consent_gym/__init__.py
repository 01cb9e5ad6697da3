"""consent-gym: reinforcement learning that asks a frozen judge for consent before it learns."""

__version__ = "0.1.0"
