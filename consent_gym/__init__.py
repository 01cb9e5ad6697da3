"""consent-gym: reinforcement learning that asks a frozen judge for consent before it learns.

Importing ``consent_gym`` registers its environments (``consent_gym/DeliveryCurb-v0``, ...)
with Gymnasium and its renderers with :func:`consent_gym.render.register_renderer`.
"""

# Registered on import: the toy environments with Gymnasium, the env families' renderers.
import consent_gym.envs
import consent_gym.render  # noqa: F401
from consent_gym.audit import AuditLog, read_audit_log
from consent_gym.trajectory import Step, Trajectory
from consent_gym.vector import ConsentVectorWrapper
from consent_gym.wrapper import ConsentWrapper

__version__ = "0.1.0"

__all__ = [
    "AuditLog",
    "ConsentVectorWrapper",
    "ConsentWrapper",
    "Step",
    "Trajectory",
    "__version__",
    "read_audit_log",
]
