"""The veto on the Learner: a learner-connector piece that judges before GAE.

The measured alternative to :class:`~consent_gym.rllib.ConsentCallback` (which judges on
each EnvRunner); ``docs/rllib.md`` ("Callback or learner connector: measured") compares
the two. Add it with :func:`consent_learner_config`::

    config = consent_learner_config(PPOConfig().environment("CartPole-v1"), factory)

Where it sits: RLlib puts the pieces of ``config.learners(learner_connector=...)`` first
in the Learner's pipeline, and PPO's Learner then prepends
``AddOneTsToEpisodesAndTruncate`` (one artificial step per episode for the value
bootstrap, and the ``loss_mask`` / ``terminateds`` / ``truncateds`` columns) and appends
``GeneralAdvantageEstimation``. So this piece sees every episode of the update once,
after the artificial step was added and before the rewards are read into the batch
(``AddColumnsFromEpisodesToTrainBatch``) and GAE runs:

- it judges all of them in ONE :func:`~consent_gym.gate.decide` call (through
  :func:`~consent_gym.rllib.episodes.judge_episodes`);
- ``"zero"`` / ``"penalty"``: the vetoed episode's env-step rewards are edited in place
  (:func:`~consent_gym.rllib.episodes.veto_episode_in_place`) and its last env step is
  set terminated (not truncated) in the ``terminateds`` / ``truncateds`` columns the
  bootstrap piece already wrote, so GAE adds no ``V(s_T)``;
- ``"block"``: the episode is removed from the update's episode list and its rows from
  the batch columns already written, so nothing of it reaches the loss, GAE's advantage
  normalisation or the trained-step counts. An update whose episodes are ALL vetoed
  cannot be skipped from here (:data:`ALL_BLOCKED`): the piece raises a ``RuntimeError``
  rather than train on vetoed steps.

The judge is built once per Learner (one copy with ``num_learners=0``, in the driver), on
its first update, from a picklable factory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import ALL_MODULES
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from consent_gym.gate import ConsentStats, Mode
from consent_gym.judges.base import Judge, OnJudgeError, verify_frozen
from consent_gym.render.base import Renderer
from consent_gym.rllib.callback import build_judge, gate_settings, settings_with_judge
from consent_gym.rllib.config import prepare_config
from consent_gym.rllib.episodes import judge_episodes, veto_episode_in_place
from consent_gym.rllib.metrics import StatsSnapshot, log_gate_metrics

#: The ``shared_data`` flag RLlib's ``AddOneTsToEpisodesAndTruncate`` sets for the pieces
#: after it: every episode carries one artificial step.
BOOTSTRAP_STEP_FLAG = "_added_loss_mask_for_valid_episode_ts"


#: Why an update whose episodes are all vetoed cannot be blocked on the Learner.
ALL_BLOCKED = (
    "every episode of this update was vetoed, and in mode='block' a learner connector "
    "cannot skip the update: RLlib's learner pipeline raises on an empty batch, and a "
    "loss mask with no valid step makes PPO's masked-mean loss 0/0 (NaN weights). Use "
    "consent_gym.rllib.consent_config (the EnvRunner callback: PPO skips an update with "
    "no episodes) or mode='zero' / 'penalty'"
)


def batch_keys(batch: dict[str, Any], episode: Any) -> list[tuple[str, Any]]:
    """``(column, key)`` of every per-episode entry that earlier pieces wrote for ``episode``.

    Learner-connector pieces add per-episode items under ``batch[column][(episode.id_,)]``
    until ``BatchIndividualItems`` concatenates them.
    """
    found = []
    for column, value in batch.items():
        if isinstance(value, dict):
            found += [(column, key) for key in value
                      if isinstance(key, tuple) and key and key[0] == episode.id_]
    return found


def mark_terminated(batch: dict[str, Any], episode: Any, steps: int) -> None:
    """Set env step ``steps - 1`` terminated, not truncated, in the flag columns written."""
    for column, flag in ((Columns.TERMINATEDS, True), (Columns.TRUNCATEDS, False)):
        for key in [k for c, k in batch_keys(batch, episode) if c == column]:
            batch[column][key][steps - 1] = flag


class ConsentLearnerConnector(ConnectorV2):
    """A learner ``ConnectorV2`` piece: judge an update's episodes, veto before GAE.

    Add it with :func:`consent_learner_config`, or by hand with
    ``config.learners(learner_connector=lambda obs, act: ConsentLearnerConnector(
    judge_factory=...))`` plus a :class:`~consent_gym.ConsentRecorder` around the env and
    ``batch_mode="complete_episodes"``.

    Logged through the Learner's ``MetricsLogger`` under
    ``result["learners"]["__all_modules__"]["consent"]``: the same keys as the callback.

    Args:
        judge_factory: A picklable callable returning a judge; called once per Learner.
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"``.
        penalty: What a vetoed episode's rewards sum to in ``"penalty"`` mode.
        audit_log: A file path each Learner appends its verdicts to.
        on_judge_error: ``"veto"`` (default, fail closed), ``"raise"`` or ``"approve"``.
        info_key: The ``info`` key :class:`~consent_gym.ConsentRecorder` writes.
    """

    def __init__(
        self,
        input_observation_space: Any = None,
        input_action_space: Any = None,
        *,
        judge_factory: Callable[[], Judge] | None = None,
        mode: Mode = "zero",
        penalty: float = -100.0,
        audit_log: str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
        **kwargs: Any,
    ) -> None:
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.settings, self.judge_factory = gate_settings(
            "ConsentLearnerConnector", judge_factory, audit_log, process="Learner",
            fix="add it with consent_gym.rllib.learner_connector.consent_learner_config("
                "config, judge_factory)",
            mode=mode, penalty=penalty, on_judge_error=on_judge_error, info_key=info_key,
        )
        self.audit_log = audit_log
        self.stats = ConsentStats()

    def ensure_judge(self) -> Judge:
        """This Learner's judge, built (and fully frozen-checked) on first use."""
        judge = self.settings.judge
        if judge is None:
            judge = build_judge(self.judge_factory)
            self.settings = settings_with_judge(self.settings, judge, self.audit_log)
        return judge

    def __call__(
        self,
        *,
        rl_module: Any,
        batch: dict[str, Any],
        episodes: list[Any],
        explore: bool | None = None,
        shared_data: dict[str, Any] | None = None,
        metrics: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Judge ``episodes`` in one call; edit or remove the vetoed ones, episodes and rows."""
        if not episodes:
            return batch
        if not all(isinstance(e, SingleAgentEpisode) for e in episodes):
            raise TypeError(
                "ConsentLearnerConnector gates single-agent episodes on RLlib's new API "
                "stack; multi-agent episodes are not supported."
            )
        bootstrap_step = bool((shared_data or {}).get(BOOTSTRAP_STEP_FLAG, False))
        judge = self.ensure_judge()
        verify_frozen(judge, full=False)
        stats = self.stats
        before = StatsSnapshot.of(stats)
        start = time.perf_counter()
        decisions = judge_episodes(self.settings, episodes, stats=stats,
                                   learner=f"rllib:learner:{self.settings.mode}",
                                   bootstrap_step=bootstrap_step)
        vetoed = [(e, d.piece.steps) for e, d in zip(episodes, decisions, strict=True)
                  if not d.approved]
        if self.settings.mode == "block":
            if len(vetoed) == len(episodes):
                raise RuntimeError(ALL_BLOCKED)
            gone = {id(e) for e, _ in vetoed}
            for episode, _ in vetoed:
                for column, key in batch_keys(batch, episode):
                    del batch[column][key]
            # The list the Learner hands to every piece and counts trained steps from.
            episodes[:] = [e for e in episodes if id(e) not in gone]
        else:
            for episode, steps in vetoed:
                veto_episode_in_place(episode, self.settings, steps)
                mark_terminated(batch, episode, steps)
        if metrics is not None:
            log_gate_metrics(metrics, (ALL_MODULES,), before, stats,
                             time.perf_counter() - start)
        return batch


def consent_learner_config(
    config: AlgorithmConfig,
    judge_factory: Callable[[], Judge],
    mode: Mode = "zero",
    *,
    penalty: float = -100.0,
    audit_log: str | os.PathLike[str] | None = None,
    on_judge_error: OnJudgeError = "veto",
    info_key: str = "consent",
    renderer: Renderer | None = None,
    actor: str | None = None,
    wrap_env: bool = True,
) -> AlgorithmConfig:
    """Gate ``config`` with :class:`ConsentLearnerConnector` (the Learner judges).

    The same checks and settings as :func:`~consent_gym.rllib.consent_config` (the
    recorder around the env, ``batch_mode="complete_episodes"``, no EnvRunner restarts),
    but the veto is a learner-connector piece after the config's own learner connectors
    instead of the EnvRunner callback.

    Example:
        >>> import functools
        >>> from ray.rllib.algorithms.ppo import PPOConfig
        >>> from consent_gym.judge_registry import load_judge
        >>> config = consent_learner_config(PPOConfig().environment("CartPole-v1"),
        ...                                 functools.partial(load_judge, "rule"))
        >>> type(config.build_learner_connector(None, None).connectors[0]).__name__
        'ConsentLearnerConnector'
    """
    prepare_config(config, judge_factory, mode, penalty=penalty, on_judge_error=on_judge_error,
                   info_key=info_key, renderer=renderer, actor=actor, wrap_env=wrap_env)
    existing = getattr(config, "_learner_connector", None)  # RLlib keeps no public copy
    config.learners(learner_connector=LearnerConnectorBuilder(
        existing, judge_factory, mode, penalty, audit_log, on_judge_error, info_key))
    return config


class LearnerConnectorBuilder:
    """What ``config.learners(learner_connector=...)`` calls in each Learner: the
    config's own pieces (if any), then a :class:`ConsentLearnerConnector`. Picklable."""

    def __init__(self, existing: Callable[..., Any] | None, judge_factory: Callable[[], Judge],
                 mode: Mode, penalty: float, audit_log: str | os.PathLike[str] | None,
                 on_judge_error: OnJudgeError, info_key: str) -> None:
        self.existing = existing
        self.kwargs: dict[str, Any] = dict(
            judge_factory=judge_factory, mode=mode, penalty=penalty, audit_log=audit_log,
            on_judge_error=on_judge_error, info_key=info_key)

    def __call__(self, observation_space: Any = None, action_space: Any = None,
                 *args: Any) -> list[ConnectorV2]:
        """The pieces, the consent piece last (after any reward shaping of the user's)."""
        pieces: Sequence[Any] = []
        if self.existing is not None:
            made = self.existing(observation_space, action_space, *args)
            pieces = list(made) if isinstance(made, (list, tuple)) else [made]
        return [*pieces, ConsentLearnerConnector(observation_space, action_space,
                                                 **self.kwargs)]
