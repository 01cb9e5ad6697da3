"""``ConsentCallback``: pairs a consent buffer with the training loop and logs the judge.

It does four things, none of which touches the veto arithmetic itself:

1. at the start of ``learn()``, checks that every sub-env is wrapped in
   :class:`~consent_gym.ConsentRecorder` (not the judging ``ConsentWrapper``) and that the
   model has a consent buffer, raising an error that names the fix otherwise; gives a
   loaded model's buffer the judge and mode passed in ``custom_objects``; passes the
   algorithm's ``n_steps`` and ``gamma`` to an n-step replay buffer;
2. on-policy: after each ``env.step`` hands the step's ``infos`` to the rollout buffer
   (SB3's ``RolloutBuffer.add`` never sees them);
3. off-policy: at ``on_rollout_end`` (before SB3 trains) judges the rollout's ended
   episodes in one batch;
4. skips ``model.train()`` whenever the buffer holds nothing to learn from (a fully
   vetoed rollout in ``"block"`` mode, an empty replay buffer), so not even an optimizer
   step with zero gradients runs (Adam would still move the weights);

and records ``consent/...`` values in SB3's logger (TensorBoard, CSV, stdout).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from consent_gym.gate import ConsentSettings, ConsentStats
from consent_gym.judges.base import verify_frozen
from consent_gym.recorder import ConsentRecorder
from consent_gym.sb3.common import WRAP_HINT
from consent_gym.sb3.replay import ConsentReplayBuffer
from consent_gym.sb3.rollout import ConsentRolloutBuffer
from consent_gym.wrapper import ConsentWrapper

_GATED: dict[type, type] = {}


def _consent_buffer(model: BaseAlgorithm) -> ConsentRolloutBuffer | ConsentReplayBuffer | None:
    for name in ("rollout_buffer", "replay_buffer"):
        buffer = getattr(model, name, None)
        if isinstance(buffer, (ConsentRolloutBuffer, ConsentReplayBuffer)):
            return buffer
    return None


def nothing_to_learn(model: BaseAlgorithm) -> bool:
    """Whether the model's consent buffer holds no step an update may use."""
    buffer = _consent_buffer(model)
    if isinstance(buffer, ConsentRolloutBuffer):
        return buffer.n_trainable == 0
    if isinstance(buffer, ConsentReplayBuffer):
        buffer.flush()
        return buffer.size() == 0
    return False


def gated_class(cls: type) -> type:
    """A subclass of the algorithm ``cls`` whose ``train()`` is skipped when nothing is trainable.

    :class:`ConsentCallback` switches the model to it for the duration of ``learn()`` and
    back afterwards; saving and loading see the original class's attributes only.
    """
    if getattr(cls, "_consent_base_class", None) is not None:
        return cls
    gated = _GATED.get(cls)
    if gated is None:

        def train(self: Any, *args: Any, **kwargs: Any) -> None:
            if nothing_to_learn(self):
                buffer = _consent_buffer(self)
                if buffer is not None:
                    buffer.stats.skipped_updates += 1
                    self.logger.record("consent/skipped_updates", buffer.stats.skipped_updates)
                return None
            return cls.train(self, *args, **kwargs)  # type: ignore[attr-defined]

        train.__doc__ = f"{cls.__name__}.train, skipped when the consent buffer is empty."
        gated = type(
            f"ConsentGated{cls.__name__}", (cls,),
            {"train": train, "_consent_base_class": cls, "__module__": __name__},
        )
        _GATED[cls] = gated
    return gated


class ConsentCallback(BaseCallback):
    """The callback that pairs with the consent buffers; also logs what the judge did.

    Pass it to ``learn()`` of any model built with
    :func:`~consent_gym.sb3.consent_kwargs`. It can sit in a list with other callbacks
    (``progress_bar=True`` included).

    Logged keys (SB3's logger, so TensorBoard shows them), after every rollout with a judge
    call:

    - ``consent/judged_episodes``: episodes judged so far (each once, whole);
    - ``consent/veto_rate`` (this rollout) and ``consent/veto_rate_total``: vetoed
      (failed included) over judged;
    - ``consent/vetoed_step_fraction``: share of the judged episodes' steps in vetoed ones;
    - ``consent/judge_latency_s`` (the batch) and ``consent/judge_latency_ms_per_episode``;
    - ``consent/failures``: failed verdicts so far (each one vetoed, fail-closed);
    - ``consent/flagged``: verdicts flagged for a person (panel disagreements) so far;
    - ``consent/cache_hit_rate``: when the judge exposes ``cache_stats``;
    - ``consent/skipped_updates``: updates skipped because nothing was approved;
    - off-policy: ``consent/committed_transitions``, ``consent/staged_transitions``.

    Args:
        verbose: 1 prints each rollout's judge summary.
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.buffer: ConsentRolloutBuffer | ConsentReplayBuffer | None = None
        self._original_class: type | None = None
        self._logged_calls = 0

    def _on_training_start(self) -> None:
        model = self.model
        buffer = _consent_buffer(model)
        if buffer is None:
            kind = "rollout" if hasattr(model, "rollout_buffer") else "replay"
            found = type(getattr(model, f"{kind}_buffer", None)).__name__
            if found == "HerReplayBuffer":
                raise TypeError(
                    "Hindsight Experience Replay (HerReplayBuffer) cannot be consent-gated: "
                    "it relabels goals after the judge read the episode, so it would train "
                    "on transitions nobody judged. Train without HER."
                )
            raise TypeError(
                f"{type(model).__name__}'s {kind} buffer is not a consent buffer: build the "
                f"model with the consent kwargs, e.g. {type(model).__name__}('MlpPolicy', env, "
                f"**consent_gym.sb3.consent_kwargs(judge, mode='block'"
                f"{'' if kind == 'rollout' else ', algo=' + type(model).__name__}))."
            )
        env = self.training_env
        wrapped = env.env_is_wrapped(ConsentRecorder)
        if not all(wrapped):
            missing = [i for i, w in enumerate(wrapped) if not w]
            raise TypeError(f"sub-envs {missing} are not wrapped in ConsentRecorder: {WRAP_HINT}.")
        judging = [i for i, j in enumerate(env.env_is_wrapped(ConsentWrapper)) if j]
        if judging:
            raise ValueError(
                f"sub-envs {judging} use ConsentWrapper, which judges and changes rewards in "
                f"the env; with the SB3 consent buffers {WRAP_HINT}."
            )
        self._adopt_loaded_settings(model, buffer)
        if isinstance(buffer, ConsentReplayBuffer):
            n_steps = int(getattr(model, "n_steps", 1) or 1)
            if n_steps > 1:
                if isinstance(buffer.observations, dict):
                    raise ValueError(
                        "n-step returns are not supported for Dict observation spaces (nor by "
                        "SB3's NStepReplayBuffer); use n_steps=1."
                    )
                buffer.n_steps, buffer.gamma = n_steps, float(model.gamma)  # type: ignore[attr-defined]
        buffer.attach_env(env, model.get_vec_normalize_env())
        self.buffer = buffer
        self._verify_judge()
        base = getattr(type(model), "_consent_base_class", None) or type(model)
        self._original_class = base
        model.__class__ = gated_class(base)

    @staticmethod
    def _adopt_loaded_settings(
        model: BaseAlgorithm, buffer: ConsentRolloutBuffer | ConsentReplayBuffer
    ) -> None:
        """A buffer loaded without its judge (``load_replay_buffer``) takes the settings the
        model was built or loaded with (``custom_objects=consent_kwargs(...)``)."""
        kind = "rollout" if isinstance(buffer, ConsentRolloutBuffer) else "replay"
        given = (getattr(model, f"{kind}_buffer_kwargs", None) or {}).get("consent")
        if isinstance(given, ConsentSettings) and given is not buffer.consent and (
            given.judge is not None
        ):
            buffer.consent = given
            if isinstance(buffer, ConsentRolloutBuffer):
                buffer.engine.settings = given
        if buffer.consent.judge is None:
            raise RuntimeError(
                f"the model's {kind} buffer has no judge (judges are never saved): load the "
                f"model with custom_objects=consent_gym.sb3.consent_kwargs(judge, mode=...)"
                f"{'' if kind == 'rollout' else ', algo=' + type(model).__name__}) or set "
                f"model.{kind}_buffer.consent.judge = judge."
            )

    def _on_step(self) -> bool:
        if isinstance(self.buffer, ConsentRolloutBuffer):
            self.buffer.record_step(self.locals["infos"], np.asarray(self.locals["dones"]))
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.buffer
        if buffer is None:
            return
        if isinstance(buffer, ConsentReplayBuffer):
            buffer.flush()
            self.logger.record("consent/committed_transitions", buffer.committed_steps)
            self.logger.record("consent/staged_transitions", buffer.staged_steps)
        self._log(buffer.stats)

    def _log(self, stats: ConsentStats) -> None:
        if stats.judge_calls == self._logged_calls:
            return
        self._logged_calls = stats.judge_calls
        record = self.logger.record
        record("consent/judged_episodes", stats.judged)
        if stats.last_judged:
            record("consent/veto_rate", stats.last_vetoed / stats.last_judged)
            record("consent/judge_latency_s", stats.last_latency_s)
            record(
                "consent/judge_latency_ms_per_episode",
                1000.0 * stats.last_latency_s / stats.last_judged,
            )
        if stats.last_steps:
            record("consent/vetoed_step_fraction", stats.last_vetoed_steps / stats.last_steps)
        record("consent/veto_rate_total", stats.veto_rate)
        record("consent/failures", stats.failed)
        record("consent/flagged", stats.flagged)
        hit_rate = stats.cache_hit_rate
        if hit_rate is not None:
            record("consent/cache_hit_rate", hit_rate)
        if self.verbose >= 1:
            print(
                f"consent: judged {stats.last_judged}, vetoed {stats.last_vetoed} "
                f"in {stats.last_latency_s:.3f}s (total {stats.judged}, veto rate "
                f"{stats.veto_rate:.2f}, failures {stats.failed}, flagged {stats.flagged})"
            )

    def _verify_judge(self) -> None:
        # The full frozen-weights check, at the start and the end of every learn() call.
        if self.buffer is not None and self.buffer.consent.judge is not None:
            verify_frozen(self.buffer.consent.judge, full=True)

    def _on_training_end(self) -> None:
        if self._original_class is not None:
            self.model.__class__ = self._original_class
            self._original_class = None
        self._verify_judge()
