"""Toy environments for consent-gym (registered when consent_gym is imported)."""
