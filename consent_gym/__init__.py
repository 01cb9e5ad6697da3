"""consent-gym: reinforcement learning that asks a frozen judge for consent before it learns.

Importing ``consent_gym`` registers its environments (``consent_gym/DeliveryCurb-v0``, ...)
with Gymnasium and its renderers with :func:`consent_gym.render.register_renderer`.
"""

# Registered on import: the toy environments with Gymnasium, the env families' renderers.
import consent_gym.envs
import consent_gym.render  # noqa: F401
from consent_gym.audit import AuditLog, read_audit_log
from consent_gym.gate import (
    ConsentSettings,
    ConsentStats,
    Decision,
    Piece,
    decide,
    submit_to_pipeline,
)
from consent_gym.judge_pipeline import JudgePipeline
from consent_gym.recorder import ConsentRecorder
from consent_gym.rollout import RolloutConsent
from consent_gym.trajectory import Step, Trajectory
from consent_gym.vector import ConsentVectorWrapper
from consent_gym.wrapper import ConsentWrapper

__version__ = "0.1.0"

__all__ = [
    "AuditLog",
    "ConsentRecorder",
    "ConsentSettings",
    "ConsentStats",
    "ConsentVectorWrapper",
    "ConsentWrapper",
    "Decision",
    "JudgePipeline",
    "Piece",
    "RolloutConsent",
    "Step",
    "Trajectory",
    "__version__",
    "decide",
    "read_audit_log",
    "submit_to_pipeline",
]
