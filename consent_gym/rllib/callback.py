"""``ConsentCallback``: the veto on each RLlib EnvRunner, before its sample leaves it.

RLlib's ``SingleAgentEnvRunner.sample()`` calls ``on_sample_end(samples=episodes)`` on
the EnvRunner after the episodes are collected and before they are returned to the
algorithm (and so before any learner connector computes GAE). ``samples`` is the very
list ``sample()`` returns, and RLlib documents that the callback may change it: this
callback judges all its episodes in one :func:`~consent_gym.gate.decide` call and puts
back only what the learner may use (:func:`~consent_gym.rllib.episodes.gate_episodes`).

The judge is built once per EnvRunner, on its first sample, from a picklable factory
(the callback object itself is made by RLlib with ``cls()`` in every EnvRunner; only the
factory travels). Its weights are fingerprint-checked in full when built and cheaply
before every judge call; a :class:`~consent_gym.judges.FrozenJudgeError` propagates out
of ``sample()`` and stops training. Evaluation EnvRunners (``config.in_evaluation``) are
not gated: nothing trains on their episodes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from consent_gym.gate import ConsentSettings, ConsentStats, Mode
from consent_gym.judges.base import Judge, OnJudgeError, check_judge, verify_frozen
from consent_gym.rllib.episodes import BATCH_MODE_HINT, gate_episodes
from consent_gym.rllib.metrics import (
    METRICS_KEY,
    StatsSnapshot,
    add_veto_rates,
    log_gate_metrics,
)


def build_judge(judge_factory: Callable[[], Judge]) -> Judge:
    """Call ``judge_factory`` once (in the process that judges) and check the judge in full:
    the judge contract and the frozen fingerprint."""
    judge = judge_factory()
    check_judge(judge)
    verify_frozen(judge, full=True)
    return judge


def gate_settings(owner: str, judge_factory: Any, audit_log: Any, *, process: str,
                  fix: str, mode: Mode, penalty: float, on_judge_error: OnJudgeError,
                  info_key: str) -> tuple[ConsentSettings, Callable[[], Judge]]:
    """Check what a gating piece was given, on the driver; return its settings (no judge
    yet: ``judge_factory`` builds it in the ``process`` that judges) and the factory.

    ``owner`` names the class in the errors, ``fix`` how to give it a factory.
    """
    if judge_factory is None or not callable(judge_factory):
        raise TypeError(
            f"{owner} needs judge_factory=, a picklable callable that returns a judge, "
            f"got {judge_factory!r}; {fix}."
        )
    if audit_log is not None and not isinstance(audit_log, (str, os.PathLike)):
        raise TypeError(
            f"audit_log must be a file path (each {process} opens it), got "
            f"{type(audit_log).__name__}."
        )
    settings = ConsentSettings(None, mode, penalty, None, on_judge_error, info_key)
    return settings, judge_factory


def settings_with_judge(settings: ConsentSettings, judge: Judge,
                        audit_log: str | os.PathLike[str] | None) -> ConsentSettings:
    """``settings`` with ``judge`` and the audit log opened, in the process that judges
    (an EnvRunner or a Learner)."""
    return ConsentSettings(
        judge, settings.mode, settings.penalty, audit_log,
        settings.on_judge_error, settings.info_key,
    )


def check_batch_mode(config: Any) -> None:
    """Raise a ``ValueError`` naming the fix unless ``config`` samples whole episodes."""
    batch_mode = getattr(config, "batch_mode", None)
    if batch_mode != "complete_episodes":
        raise ValueError(f"config.batch_mode is {batch_mode!r}; {BATCH_MODE_HINT}.")


def check_fault_tolerance(config: Any) -> None:
    """Raise a ``ValueError`` naming the fix if RLlib would swallow an EnvRunner's error.

    With ``restart_failed_env_runners`` (RLlib's default) or
    ``ignore_env_runner_failures``, an exception in a remote ``sample()`` is only logged:
    a :class:`~consent_gym.judges.FrozenJudgeError` would not stop training, and the
    restarted EnvRunner would fingerprint its judge afresh.
    """
    if getattr(config, "restart_failed_env_runners", False) or getattr(
        config, "ignore_env_runner_failures", False
    ):
        raise ValueError(
            "RLlib would log and ignore an EnvRunner's FrozenJudgeError (restart_failed_"
            "env_runners or ignore_env_runner_failures is on); set config.fault_tolerance("
            "restart_failed_env_runners=False, ignore_env_runner_failures=False) "
            "(consent_gym.rllib.consent_config does)."
        )


class ConsentCallback(RLlibCallback):
    """An ``RLlibCallback`` that gates every sampled episode through the decision step.

    Add it with :func:`~consent_gym.rllib.consent_config` (which also wraps the env in
    :class:`~consent_gym.ConsentRecorder` and sets ``batch_mode="complete_episodes"``), or
    by hand: ``config.callbacks(functools.partial(ConsentCallback, judge_factory=...))``.

    Per ``sample()`` on each EnvRunner: every episode (whole, ``complete_episodes``) is
    judged in one call; approved ones go to the learner unchanged; vetoed ones go with
    rewards 0 (``"zero"``) or 0 and ``penalty`` at the last step (``"penalty"``), marked
    terminated so GAE bootstraps no value after them, or not at all (``"block"``).

    Logged through the EnvRunner's ``MetricsLogger`` under
    ``result["env_runners"]["consent"]``: the lifetime sums
    :data:`~consent_gym.rllib.metrics.LIFETIME_COUNTS` (``cache_hits`` when the judge has a
    verdict cache) and this iteration's ``episodes_judged_iter`` /
    ``episodes_vetoed_iter``; :meth:`on_train_result` adds ``veto_rate`` (lifetime) and
    ``veto_rate_iter``.

    Args:
        judge_factory: A picklable callable returning a judge; called once per EnvRunner.
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"``.
        penalty: What a vetoed episode's rewards sum to in ``"penalty"`` mode.
        audit_log: A file path; every EnvRunner appends its verdicts to it (whole lines,
            ``O_APPEND``, fsync'ed before the sample is returned). On a multi-node
            cluster each node writes its own copy of the path.
        on_judge_error: ``"veto"`` (default, fail closed), ``"raise"`` or ``"approve"``.
        info_key: The ``info`` key :class:`~consent_gym.ConsentRecorder` writes.
    """

    def __init__(
        self,
        judge_factory: Callable[[], Judge] | None = None,
        mode: Mode = "zero",
        penalty: float = -100.0,
        audit_log: str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
    ) -> None:
        super().__init__()
        # Checks mode, penalty, on_judge_error and info_key now, on the driver.
        self.settings, self.judge_factory = gate_settings(
            "ConsentCallback", judge_factory, audit_log, process="EnvRunner",
            fix="add it with consent_gym.rllib.consent_config(config, judge_factory) or "
                "config.callbacks(functools.partial(ConsentCallback, judge_factory=...))",
            mode=mode, penalty=penalty, on_judge_error=on_judge_error, info_key=info_key,
        )
        self.audit_log = audit_log
        self.stats = ConsentStats()

    # ------------------------------------------------------------------ driver side
    def on_algorithm_init(self, *, algorithm: Any, metrics_logger: Any = None,
                          **kwargs: Any) -> None:
        """Refuse a config that hands the learner episode chunks or swallows judge errors."""
        check_batch_mode(algorithm.config)
        check_fault_tolerance(algorithm.config)

    def on_train_result(self, *, algorithm: Any, metrics_logger: Any = None,
                        result: dict[str, Any], **kwargs: Any) -> None:
        """Add ``veto_rate`` (lifetime) and ``veto_rate_iter`` to the result's consent dict."""
        add_veto_rates(result.get("env_runners", {}).get(METRICS_KEY))

    # ------------------------------------------------------------------ EnvRunner side
    def ensure_judge(self) -> Judge:
        """This EnvRunner's judge, built (and fully frozen-checked) on first use."""
        judge = self.settings.judge
        if judge is None:
            judge = build_judge(self.judge_factory)
            self.settings = settings_with_judge(self.settings, judge, self.audit_log)
        return judge

    def on_sample_end(self, *, env_runner: Any = None, metrics_logger: Any = None,
                      samples: Any, **kwargs: Any) -> None:
        """Judge the sample's episodes in one call; keep only what the learner may use."""
        config = env_runner.config
        if getattr(config, "in_evaluation", False):
            return
        check_batch_mode(config)
        if not isinstance(samples, list) or not all(
            isinstance(e, SingleAgentEpisode) for e in samples
        ):
            raise TypeError(
                "ConsentCallback gates single-agent episodes on RLlib's new API stack "
                "(SingleAgentEnvRunner); multi-agent envs and the old API stack are not "
                "supported."
            )
        judge = self.ensure_judge()
        verify_frozen(judge, full=False)
        stats = self.stats
        before = StatsSnapshot.of(stats)
        index = getattr(env_runner, "worker_index", 0)
        start = time.perf_counter()
        kept, _ = gate_episodes(self.settings, samples, stats=stats,
                                learner=f"rllib:env_runner{index}:{self.settings.mode}")
        samples[:] = kept  # the list sample() returns: vetoed episodes edited or gone
        if metrics_logger is None:
            return
        log_gate_metrics(metrics_logger, (), before, stats, time.perf_counter() - start)
