"""The veto on RLlib episodes: read the recorder's record, decide, edit or drop.

Pure functions over RLlib's ``SingleAgentEpisode`` (new API stack); the callback
(:mod:`consent_gym.rllib.callback`) calls :func:`gate_episodes` once per ``sample()``,
on the EnvRunner, before the episodes leave it. The judging, audit log, statistics and
release arithmetic are the decision step's (:func:`consent_gym.gate.decide`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from consent_gym.gate import (
    ConsentSettings,
    ConsentStats,
    Decision,
    Piece,
    decide,
    vetoed_rewards,
)

#: What a user is told when an episode arrives without the recorder's record.
WRAP_HINT = (
    "wrap the env in consent_gym.ConsentRecorder: consent_gym.rllib.consent_config(config, "
    "judge_factory) does it for a Gymnasium id or an env creator"
)
#: What a user is told when RLlib hands over episode chunks instead of whole episodes.
BATCH_MODE_HINT = (
    "consent gating judges whole episodes: set config.env_runners(batch_mode="
    "'complete_episodes') (consent_gym.rllib.consent_config does)"
)


def episode_record(episode: Any, info_key: str = "consent", *,
                   bootstrap_step: bool = False) -> Mapping[str, Any]:
    """The :class:`~consent_gym.ConsentRecorder` record in a finished episode's last info.

    ``bootstrap_step``: the episode carries RLlib's artificial last step (the learner
    pipeline's ``AddOneTsToEpisodesAndTruncate`` repeats the last observation and info
    and appends a 0 reward), so it is one step longer than the env's episode.

    Raises:
        RuntimeError: the episode is a chunk (not whole) or has no record, naming the fix.
    """
    if not episode.is_done or episode.t_started != 0:
        raise RuntimeError(
            f"episode {episode.id_} reached the consent gate as a chunk (steps "
            f"{episode.t_started}..{episode.t}, done={episode.is_done}); {BATCH_MODE_HINT}."
        )
    record = episode.get_infos(-1).get(info_key)
    if not isinstance(record, Mapping) or "text" not in record:
        if bootstrap_step:
            # RLlib's bootstrap piece marks a chunk cut by the EnvRunner truncated, so on
            # the learner a chunk and an unwrapped env look alike: name both fixes.
            raise RuntimeError(
                f"episode {episode.id_} reached the learner without info[{info_key!r}] at "
                f"its last step: either it is a chunk of a longer episode ({BATCH_MODE_HINT}"
                f") or the env is not recorded ({WRAP_HINT})."
            )
        raise RuntimeError(
            f"episode {episode.id_} ended without info[{info_key!r}]: {WRAP_HINT}."
        )
    if not record.get("pending", False):
        raise RuntimeError(
            f"episode {episode.id_}: ConsentWrapper already judged it; with RLlib the "
            f"EnvRunner judges: use consent_gym.ConsentRecorder instead of ConsentWrapper."
        )
    env_steps = len(episode) - int(bootstrap_step)
    length = int(record.get("length", env_steps))
    if length != env_steps:
        raise RuntimeError(
            f"episode {episode.id_}: ConsentRecorder recorded {length} steps where RLlib "
            f"recorded {env_steps}; ConsentRecorder must wrap the env directly (no "
            f"wrapper outside it may reset or end episodes)."
        )
    return record


def episode_piece(episode: Any, info_key: str = "consent", *,
                  bootstrap_step: bool = False) -> Piece:
    """The :class:`~consent_gym.gate.Piece` the judge reads for a whole RLlib episode.

    ``bootstrap_step``: as in :func:`episode_record` (the learner-side placement).
    """
    record = episode_record(episode, info_key, bootstrap_step=bootstrap_step)
    steps = len(episode) - int(bootstrap_step)
    return Piece(
        str(record["text"]),
        float(record.get("episode_return", sum(episode.get_rewards()[:steps]))),
        str(record.get("env_id", "")),
        int(record.get("episode_index", -1)),
        start=0,
        steps=steps,
        finished=True,
    )


def veto_episode_in_place(episode: Any, settings: ConsentSettings,
                          steps: int | None = None) -> None:
    """Give a vetoed ``episode`` the rewards the learner may see, in place.

    Its first ``steps`` rewards (default: all) become :func:`~consent_gym.gate.vetoed_rewards`
    (all 0, or 0 and the penalty at the last env step) and it is marked terminated, not
    truncated, so RLlib's GAE adds no value bootstrap ``V(s_T)`` after it. On the learner
    side ``steps`` leaves RLlib's artificial bootstrap step (reward 0) as it is.
    """
    n = len(episode) if steps is None else steps
    rewards = np.asarray(episode.get_rewards(), dtype=np.float64)[:n]
    new = vetoed_rewards(rewards, settings.mode, settings.penalty)
    episode.set_rewards(
        new_data=new.astype(np.float32) if episode.is_numpy else new.tolist(),
        at_indices=slice(0, n),
    )
    episode.is_terminated, episode.is_truncated = True, False


def vetoed_episode(episode: Any, settings: ConsentSettings) -> Any:
    """A copy of a vetoed ``episode`` as the learner may see it (``"zero"``, ``"penalty"``).

    The copy is edited by :func:`veto_episode_in_place`; the original is left as it was,
    so the EnvRunner's episode metrics keep the env's own return.
    """
    edited = copy.deepcopy(episode)
    veto_episode_in_place(edited, settings)
    return edited


def judge_episodes(
    settings: ConsentSettings,
    episodes: Sequence[Any],
    *,
    stats: ConsentStats | None = None,
    learner: str = "rllib",
    bootstrap_step: bool = False,
) -> list[Decision]:
    """One :func:`~consent_gym.gate.decide` call on whole RLlib ``episodes``; a decision each.

    ``bootstrap_step``: the episodes carry RLlib's artificial last step (learner side).
    """
    pieces = [episode_piece(e, settings.info_key, bootstrap_step=bootstrap_step)
              for e in episodes]
    return decide(settings, pieces, stats=stats, learner=learner)


def gate_episodes(
    settings: ConsentSettings,
    episodes: Sequence[Any],
    *,
    stats: ConsentStats | None = None,
    learner: str = "rllib",
) -> tuple[list[Any], list[Decision]]:
    """Judge ``episodes`` in one :func:`~consent_gym.gate.decide` call; what may be learned.

    Returns:
        ``(kept, decisions)``: approved episodes unchanged; vetoed ones edited by
        :func:`vetoed_episode` (``"zero"``, ``"penalty"``) or left out (``"block"``); and
        the decision on each input episode, in order.

    Example:
        >>> from ray.rllib.env.single_agent_episode import SingleAgentEpisode
        >>> from consent_gym.judges import RuleJudge
        >>> record = {"text": "hit a pedestrian", "length": 1, "pending": True}
        >>> episode = SingleAgentEpisode(
        ...     observations=[0, 1], actions=[0], rewards=[1.0], infos=[{}, {"consent": record}],
        ...     terminated=True, len_lookback_buffer=0)
        >>> settings = ConsentSettings(RuleJudge(lambda t: "pedestrian" not in t, name="x"))
        >>> kept, decisions = gate_episodes(settings, [episode])
        >>> decisions[0].approved, list(kept[0].get_rewards()), list(episode.get_rewards())
        (False, [0.0], [1.0])
    """
    decisions = judge_episodes(settings, episodes, stats=stats, learner=learner)
    kept: list[Any] = []
    for episode, decision in zip(episodes, decisions, strict=True):
        if decision.approved:
            kept.append(episode)
        elif settings.mode != "block":
            kept.append(vetoed_episode(episode, settings))
    return kept, decisions
