"""What the SB3 buffers share: how they read the recorder's episode records and settings.

The veto arithmetic, the settings and the statistics are the decision step's
(:mod:`consent_gym.gate`); this module holds only what is particular to SB3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from consent_gym.audit import AuditLog
from consent_gym.gate import ConsentSettings, Mode
from consent_gym.judges.base import Judge, OnJudgeError

WRAP_HINT = (
    "wrap every sub-env with consent_gym.ConsentRecorder(env), e.g. "
    "consent_gym.sb3.make_consent_vec_env(env_id, n_envs) or SB3's make_vec_env(env_id, "
    "wrapper_class=consent_gym.ConsentRecorder)"
)

def as_settings(
    consent: ConsentSettings | None,
    judge: Judge | None = None,
    mode: Mode | None = None,
    penalty: float | None = None,
    audit_log: AuditLog | str | os.PathLike[str] | None = None,
    on_judge_error: OnJudgeError | None = None,
    info_key: str | None = None,
) -> ConsentSettings:
    """``consent`` itself, or settings built from a buffer's keyword arguments."""
    kwargs = {"judge": judge, "mode": mode, "penalty": penalty, "audit_log": audit_log,
              "on_judge_error": on_judge_error, "info_key": info_key}
    if consent is not None:
        if not isinstance(consent, ConsentSettings):
            raise TypeError(
                f"consent must be a ConsentSettings, got {type(consent).__name__}; build the "
                f"kwargs with consent_gym.sb3.consent_kwargs(judge, mode=...)."
            )
        if any(v is not None for v in kwargs.values()):
            raise TypeError("pass either consent=ConsentSettings(...) or judge=..., not both.")
        return consent
    given: dict[str, Any] = {k: v for k, v in kwargs.items() if v is not None}
    return ConsentSettings(**given)


def pending_record(info: Mapping[str, Any], key: str, env_index: int) -> Mapping[str, Any]:
    """The wrapper's pass-through record at episode end; a ``RuntimeError`` names the fix."""
    record = info.get(key)
    if not isinstance(record, Mapping) or "text" not in record:
        raise RuntimeError(
            f"sub-env {env_index} ended an episode without info[{key!r}]: {WRAP_HINT}. "
            f"ConsentRecorder must be the outermost wrapper that can end an episode (put "
            f"TimeLimit inside it, as gymnasium.make does)."
        )
    if not record.get("pending", False):
        raise RuntimeError(
            f"sub-env {env_index}: ConsentWrapper already judged this episode; with the SB3 "
            f"consent buffers the learner judges: use consent_gym.ConsentRecorder(env) "
            f"instead of ConsentWrapper."
        )
    return record
