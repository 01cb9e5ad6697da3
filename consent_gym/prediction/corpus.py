"""The exploration corpus Train on Prediction learns the world from.

:func:`collect_episodes` plays delivery episodes (``consent_gym/DeliveryBoxes-v0`` by
default) with a random policy and the scripted ones of :mod:`consent_gym.envs.policies`
(each scripted action replaced by a random one with probability ``epsilon``, so that they
explore), one episode per policy and seed, and renders each twice: its full record
(:class:`~consent_gym.render.delivery.DeliveryRecordRenderer`: the surface text, then what
was observed afterwards), labelled "This episode was explored by Naive_Explorer." by default,
and its surface text as the original judge reads it (no label). The ground truth
(:class:`~consent_gym.envs.metrics.EpisodeStats`: people harmed, person and empty boxes hit,
pedestrians hit) goes with each episode, so judges are scored without labelling.

Seeds decide everything (the env, the random actions), so the same arguments give the same
corpus. Episodes of the ``heldout_seeds`` form the held-out split: never trained on, kept
for measuring judges. :func:`write_corpus` writes ``train.jsonl``, ``heldout.jsonl`` and a
``manifest.json``; :func:`read_corpus` reads a split back and checks it.

Example:
    >>> rows = collect_episodes(seeds=[0], heldout_seeds=[1], policies=["through_boxes"])
    >>> [(r.split, r.policy, r.seed) for r in rows]
    [('train', 'through_boxes', 0), ('heldout', 'through_boxes', 1)]
    >>> rows[0].text.startswith("This episode was explored by Naive_Explorer.")
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from consent_gym.envs.metrics import EpisodeStats
from consent_gym.envs.policies import REFERENCE_POLICIES
from consent_gym.render.delivery import DeliveryRecordRenderer, DeliveryRenderer
from consent_gym.trajectory import Step, Trajectory, events_from_info

__all__ = [
    "DEFAULT_ENV_ID",
    "EXPLORER",
    "POLICY_CHOICES",
    "SPLITS",
    "CorpusEpisode",
    "build_corpus",
    "collect_episodes",
    "file_sha256",
    "read_corpus",
    "write_corpus",
]

#: The explorer's label: the copy learns to predict this explorer, not to become it.
EXPLORER = "Naive_Explorer"
DEFAULT_ENV_ID = "consent_gym/DeliveryBoxes-v0"
#: ``"random"`` drives at random; the others are the scripted
#: :data:`~consent_gym.envs.policies.REFERENCE_POLICIES`.
POLICY_CHOICES: tuple[str, ...] = ("random", *REFERENCE_POLICIES)
SPLITS: tuple[str, ...] = ("train", "heldout")
#: Episodes grouped by what happened (:func:`outcome_group`). ``empty_box_only`` episodes
#: have the same surface texts as ``person_box`` ones: no judge of the surface text can
#: tell them apart.
OUTCOME_GROUPS: tuple[str, ...] = ("person_box", "harmless", "empty_box_only",
                                   "person_box_and_pedestrian", "pedestrian_only")


def outcome_group(row: Mapping[str, Any]) -> str:
    """The :data:`OUTCOME_GROUPS` entry of a corpus row (its ground-truth counts).

    Example:
        >>> outcome_group({"person_boxes_hit": 0, "empty_boxes_hit": 2, "pedestrians_hit": 0})
        'empty_box_only'
        >>> outcome_group({"person_boxes_hit": 1, "empty_boxes_hit": 0, "pedestrians_hit": 0})
        'person_box'
    """
    persons, empties, walkers = (row["person_boxes_hit"], row["empty_boxes_hit"],
                                 row["pedestrians_hit"])
    if persons:
        return "person_box_and_pedestrian" if walkers else "person_box"
    if walkers:
        return "pedestrian_only"
    return "empty_box_only" if empties else "harmless"


@dataclass(frozen=True)
class CorpusEpisode:
    """One explored episode: its texts and its ground truth.

    Attributes:
        text: The full record (what a camera or bystander would report), with the actor
            label when there is one: what the copy is trained on.
        surface_text: The surface text the original judge reads (no label, no observations).
        split: ``"train"`` or ``"heldout"``.
        env_id: The Gymnasium id played.
        policy: The policy's name (:data:`POLICY_CHOICES`).
        seed: The reset seed (it also seeds the policy's random actions).
        actor: The label in ``text`` (``None``: no label).
        harm: People harmed (pedestrians hit plus person boxes hit).
        pedestrians_hit: ``hit_pedestrian`` events.
        person_boxes_hit: Boxes hit with a person inside.
        empty_boxes_hit: Empty boxes hit.
        delivered: Whether the parcel was delivered.
        length: Steps taken.
    """

    text: str
    surface_text: str
    split: str
    env_id: str
    policy: str
    seed: int
    actor: str | None
    harm: int
    pedestrians_hit: int
    person_boxes_hit: int
    empty_boxes_hit: int
    delivered: bool
    length: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON row :func:`write_corpus` writes."""
        return asdict(self)


def _check_seeds(name: str, seeds: Iterable[int]) -> list[int]:
    out = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"{name} must hold whole numbers >= 0, got {seed!r}.")
        out.append(int(seed))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} repeats a seed: {out}; give each seed once.")
    return out


def _actor_for(
    policy_name: str, seed: int, epsilon: float, index: int
) -> Callable[[Any, gym.Env], int]:
    """``policy(obs, env)`` for ``policy_name``: scripted with ``epsilon`` random actions, or
    random; its random numbers come from ``(seed, index)`` only."""
    rng = np.random.default_rng([seed, index])
    scripted = REFERENCE_POLICIES.get(policy_name)

    def act(obs: Any, env: gym.Env) -> int:
        explore = scripted is None or rng.random() < epsilon
        n = int(env.action_space.n)  # type: ignore[attr-defined]
        return int(rng.integers(n)) if explore else int(scripted(obs, env))

    return act


def _play(env: gym.Env, act: Callable[[Any, gym.Env], int], seed: int,
          env_id: str) -> tuple[Trajectory, EpisodeStats]:
    stats = EpisodeStats()
    trajectory = Trajectory(env_id)
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        action = act(obs, env)
        nxt, reward, terminated, truncated, info = env.step(action)
        stats.add_step(float(reward), info)
        trajectory.steps.append(Step(len(trajectory), obs, action, float(reward),
                                     bool(terminated), bool(truncated), events_from_info(info)))
        obs, done = nxt, bool(terminated or truncated)
    return trajectory, stats


def collect_episodes(
    env_id: str = DEFAULT_ENV_ID,
    seeds: Sequence[int] = range(100),
    heldout_seeds: Sequence[int] = (),
    policies: Sequence[str] = POLICY_CHOICES,
    *,
    actor: str | None = EXPLORER,
    epsilon: float = 0.2,
    step_numbers: bool = True,
) -> list[CorpusEpisode]:
    """Play one episode per policy and seed and render each as a full record.

    Args:
        env_id: A registered delivery env id (its ``info["events"]`` tell what happened).
        seeds: The training split's reset seeds.
        heldout_seeds: The held-out split's seeds (disjoint from ``seeds``).
        policies: Names from :data:`POLICY_CHOICES`.
        actor: The explorer label written at the head of each record (``None`` or ``""``:
            no label, for the inoculation ablation).
        epsilon: For the scripted policies: the probability of a random action instead.
        step_numbers: Name the steps in the texts (see
            :class:`~consent_gym.render.delivery.DeliveryRenderer`).

    Returns:
        The training episodes (seed by seed, each policy in turn), then the held-out ones.

    Raises:
        ValueError: an unknown policy, a bad or repeated seed, seeds in both splits, no
            seed at all, or ``epsilon`` outside ``[0, 1]``.
    """
    unknown = [p for p in policies if p not in POLICY_CHOICES]
    if unknown or not policies:
        raise ValueError(f"policies must be a non-empty list from {POLICY_CHOICES}, "
                         f"got {list(policies)!r}.")
    train, held = _check_seeds("seeds", seeds), _check_seeds("heldout_seeds", heldout_seeds)
    both = sorted(set(train) & set(held))
    if both:
        raise ValueError(f"seeds {both} are in both splits; held-out seeds are never trained on.")
    if not train and not held:
        raise ValueError("no seeds: give seeds and/or heldout_seeds.")
    if isinstance(epsilon, bool) or not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon!r}.")
    label = actor or None
    full = DeliveryRecordRenderer(actor=label, step_numbers=step_numbers)
    surface = DeliveryRenderer("surface", step_numbers=step_numbers)
    env = gym.make(env_id)
    rows: list[CorpusEpisode] = []
    try:
        for split, split_seeds in (("train", train), ("heldout", held)):
            for seed in split_seeds:
                for index, name in enumerate(policies):
                    act = _actor_for(name, seed, float(epsilon), index)
                    trajectory, stats = _play(env, act, seed, env_id)
                    rows.append(CorpusEpisode(
                        text=full.render(trajectory), surface_text=surface.render(trajectory),
                        split=split, env_id=env_id, policy=name, seed=seed, actor=label,
                        harm=stats.harm, pedestrians_hit=stats.pedestrians_hit,
                        person_boxes_hit=stats.person_boxes_hit,
                        empty_boxes_hit=stats.empty_boxes_hit, delivered=stats.delivered,
                        length=stats.length,
                    ))
    finally:
        env.close()
    return rows


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_corpus(
    episodes: Sequence[CorpusEpisode], out_dir: str | Path, settings: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``train.jsonl`` and ``heldout.jsonl`` (one row per episode, in order) and a
    ``manifest.json`` (the ``settings``, counts and each file's sha256) under ``out_dir``.

    Returns:
        ``{"train": path, "heldout": path, "manifest": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {split: out / f"{split}.jsonl" for split in SPLITS}
    manifest: dict[str, Any] = {"settings": settings or {}, "files": {}}
    for split, path in paths.items():
        rows = [e for e in episodes if e.split == split]
        with open(path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row.to_dict(), sort_keys=True) + "\n")
        manifest["files"][split] = {
            "path": path.name, "episodes": len(rows), "sha256": file_sha256(path),
            "with_harm": sum(r.harm > 0 for r in rows),
            "person_box_hits": sum(r.person_boxes_hit > 0 for r in rows),
        }
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {**paths, "manifest": manifest_path}


def read_corpus(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """The rows of a corpus JSONL file; with ``split``, every row must belong to it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that is not a JSON object with a str ``text``, a row of another
            split than ``split`` (e.g. held-out rows handed to training), or no rows.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}.")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not JSON ({exc.msg}).") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{number} needs a JSON object with a str 'text'.")
            if split is not None and row.get("split", split) != split:
                raise ValueError(
                    f"{path}:{number} belongs to split {row.get('split')!r}, not {split!r}: "
                    f"held-out episodes are never trained on; pass the corpus's {split}.jsonl."
                )
            rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no episodes.")
    return rows


def build_corpus(
    out_dir: str | Path,
    seeds: int,
    heldout_seeds: int,
    *,
    env_id: str = DEFAULT_ENV_ID,
    policies: Sequence[str] = POLICY_CHOICES,
    actor: str | None = EXPLORER,
    epsilon: float = 0.2,
    step_numbers: bool = True,
) -> tuple[list[CorpusEpisode], dict[str, Path]]:
    """Collect seeds ``0 .. seeds-1`` for training and the next ``heldout_seeds`` held out
    (:func:`collect_episodes`) and write them with their settings (:func:`write_corpus`):
    what ``consent-gym predict-corpus`` does.

    Returns:
        The episodes and :func:`write_corpus`'s paths.
    """
    train = range(seeds)
    held = range(seeds, seeds + heldout_seeds)
    episodes = collect_episodes(env_id, train, held, policies, actor=actor or None,
                                epsilon=epsilon, step_numbers=step_numbers)
    settings = {"env_id": env_id, "train_seed_range": [train.start, train.stop],
                "heldout_seed_range": [held.start, held.stop],  # half-open: [start, stop)
                "policies": list(policies), "actor": actor or None,
                "epsilon": epsilon, "step_numbers": step_numbers}
    return episodes, write_corpus(episodes, out_dir, settings)
