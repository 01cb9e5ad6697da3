"""Training one reproduction arm with Ray RLlib's PPO instead of Stable-Baselines3.

:func:`train_and_evaluate_rllib` is the RLlib twin of
:func:`~consent_gym.experiments.common.train_and_evaluate`: the same arm, seed, budget,
PPO settings (translated by :func:`rllib_ppo_kwargs`) and evaluation, returning the same
:class:`~consent_gym.experiments.common.RunResult`. A gated arm is gated with
:func:`consent_gym.rllib.consent_config`; both arms sample whole episodes
(``batch_mode="complete_episodes"``), so they differ only in the judge.

Sampling runs on RLlib's local EnvRunner (``num_env_runners=0``): on this project's
2-core machine remote EnvRunners only add processes, and in one process the judge that
``shared_judge`` loaded once (with its verdict cache) serves every seed, as in the SB3
reproduction. Training episodes are recorded by :class:`EpisodeLog` in this process.

Example:
    >>> sorted(rllib_ppo_kwargs({"n_steps": 128, "batch_size": 256}, n_envs=8).items())
    [('minibatch_size', 256), ('train_batch_size_per_learner', 1024)]
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

from consent_gym.envs.metrics import EpisodeStats, episode_metrics, run_policy
from consent_gym.experiments.common import GateSpec, RunResult
from consent_gym.gate import JudgeCall

#: SB3 PPO keyword -> RLlib ``PPOConfig.training`` keyword (``n_steps`` is per env).
SB3_TO_RLLIB: dict[str, str] = {
    "batch_size": "minibatch_size",
    "n_epochs": "num_epochs",
    "learning_rate": "lr",
    "gamma": "gamma",
    "gae_lambda": "lambda_",
    "ent_coef": "entropy_coeff",
    "clip_range": "clip_param",
    "vf_coef": "vf_loss_coeff",
    "max_grad_norm": "grad_clip",
}
#: Training episodes recorded by :class:`EpisodeLog`, per run id (this process only).
EPISODE_LOGS: dict[str, list[EpisodeStats]] = {}
#: The distinct episode texts (their sha256) each gated run's judge was shown.
EPISODE_TEXTS: dict[str, set[str]] = {}


def rllib_ppo_kwargs(ppo_kwargs: Mapping[str, Any], n_envs: int) -> dict[str, Any]:
    """``PPOConfig.training`` keywords equivalent to SB3 PPO's ``ppo_kwargs``.

    ``n_steps`` (per env) times ``n_envs`` becomes ``train_batch_size_per_learner``;
    ``policy_kwargs``, ``device`` and ``seed`` are handled elsewhere.

    Raises:
        ValueError: a keyword with no RLlib equivalent here.
    """
    out: dict[str, Any] = {}
    for key, value in ppo_kwargs.items():
        if key == "n_steps":
            out["train_batch_size_per_learner"] = int(value) * n_envs
        elif key in SB3_TO_RLLIB:
            out[SB3_TO_RLLIB[key]] = value
        elif key not in ("policy_kwargs", "device", "seed"):
            raise ValueError(
                f"PPO setting {key!r} has no RLlib equivalent in consent_gym.experiments."
                f"rllib_training; known: n_steps, {', '.join(SB3_TO_RLLIB)}."
            )
    return out


class EpisodeLog(RLlibCallback):
    """Records every training episode's ground truth (:class:`EpisodeStats`) in
    :data:`EPISODE_LOGS` [``run_id``]; runs before the consent callback's veto, so the
    returns are the env's own. Only for the local EnvRunner (it writes to this process).
    """

    def __init__(self, run_id: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.steps = 0

    def on_episode_end(self, *, episode: Any, env_runner: Any = None, **kwargs: Any) -> None:
        """Count the finished episode (its infos carry the env's events)."""
        if env_runner is not None and getattr(env_runner.config, "in_evaluation", False):
            return
        stats = EpisodeStats()
        infos = list(episode.get_infos())[1:]  # the first info is the reset's
        for reward, info in zip(episode.get_rewards(), infos, strict=True):
            stats.add_step(float(reward), info)
        self.steps += len(episode)
        stats.timestep = self.steps
        EPISODE_LOGS.setdefault(self.run_id, []).append(stats)
        record = infos[-1].get("consent") if infos else None
        if isinstance(record, Mapping) and "text_sha256" in record:
            EPISODE_TEXTS.setdefault(self.run_id, set()).add(str(record["text_sha256"]))


@contextlib.contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """A local Ray for the block (no dashboard); shut down after it if started here."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def build_ppo(
    env_id: str, seed: int, gate: GateSpec | None, n_envs: int,
    ppo_kwargs: Mapping[str, Any], run_id: str,
) -> Any:
    """An RLlib PPO ``Algorithm`` on ``n_envs`` copies of ``env_id``, gated per ``gate``."""
    import functools

    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    net = list((ppo_kwargs.get("policy_kwargs") or {}).get("net_arch", [64, 64]))
    episode_log: Any = functools.partial(EpisodeLog, run_id)  # RLlib calls it with no args
    config = (
        PPOConfig()
        .environment(env_id)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=n_envs,
                     batch_mode="complete_episodes")
        # As SB3's PPO: no KL term, separate tanh policy and value networks.
        .training(use_kl_loss=False, kl_coeff=0.0, vf_loss_coeff=0.5, grad_clip=0.5,
                  grad_clip_by="global_norm", **rllib_ppo_kwargs(ppo_kwargs, n_envs))
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=net,
                                                   fcnet_activation="tanh",
                                                   vf_share_layers=False))
        .callbacks(episode_log)
        .debugging(seed=seed)
        .reporting(metrics_num_episodes_for_smoothing=n_envs)
    )
    if gate is not None:
        from consent_gym.rllib import consent_config

        if gate.judge_factory is None:
            raise ValueError("the RLlib engine needs GateSpec.judge_factory (a picklable "
                             "callable building the judge in the EnvRunner).")
        consent_config(config, gate.judge_factory, gate.mode,  # type: ignore[arg-type]
                       penalty=gate.penalty, renderer=gate.renderer)
    return config.build_algo()


def evaluate_rllib(algo: Any, env_id: str, eval_seeds: Sequence[int]) -> dict[str, float]:
    """:func:`episode_metrics` of the trained module's greedy policy, one episode per seed."""
    import numpy as np
    import torch

    module = algo.get_module()

    def act(obs: Any) -> int:
        batch = {"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])}
        with torch.no_grad():
            logits = module.forward_inference(batch)["action_dist_inputs"]
        return int(torch.argmax(logits, dim=-1)[0])

    return episode_metrics(run_policy(act, env_id, eval_seeds))


def train_and_evaluate_rllib(
    env_id: str,
    arm: str,
    seed: int,
    timesteps: int,
    gate: GateSpec | None,
    eval_seeds: Sequence[int],
    *,
    n_envs: int,
    ppo_kwargs: Mapping[str, Any],
    progress: bool = True,
) -> RunResult:
    """Train one RLlib PPO policy and evaluate it deterministically on ``eval_seeds``.

    Trains ``ceil(timesteps / (n_steps * n_envs))`` iterations; each samples at least
    ``n_steps * n_envs`` steps in whole episodes. The judge figures come from the
    consent callback's MetricsLogger values in RLlib's result dict.
    """
    from tqdm.auto import tqdm

    run_id = f"{arm}:{seed}:{time.monotonic_ns()}"
    batch = int(ppo_kwargs.get("n_steps", 2048)) * n_envs
    iterations = max(1, math.ceil(timesteps / batch))
    calls: list[JudgeCall] = []
    consent: dict[str, Any] = {}
    start = time.perf_counter()
    algo = build_ppo(env_id, seed, gate, n_envs, ppo_kwargs, run_id)
    try:
        judge_seconds = 0.0
        for _ in tqdm(range(iterations), desc=f"train {arm} seed {seed} (rllib)",
                      unit="iter", disable=not progress, leave=False):
            result = algo.train()
            now = result.get("env_runners", {}).get("consent")
            if isinstance(now, Mapping):
                consent = dict(now)
                seconds = float(consent.get("judge_seconds", 0.0)) - judge_seconds
                judge_seconds = float(consent.get("judge_seconds", 0.0))
                episodes = EPISODE_LOGS.get(run_id, [])
                calls.append(JudgeCall(
                    timestep=episodes[-1].timestep if episodes else 0,
                    n=int(consent.get("episodes_judged_iter", 0)),
                    vetoed=int(consent.get("episodes_vetoed_iter", 0)),
                    failed=0, flagged=0, seconds=seconds,  # per-iteration counts: vetoes
                ))
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        evaluation = evaluate_rllib(algo, env_id, eval_seeds)
        eval_s = time.perf_counter() - start
    finally:
        algo.stop()
    judge: dict[str, Any] = {}
    if gate is not None:
        judged = int(consent.get("episodes_judged", 0))
        hits = consent.get("cache_hits")
        judge = {
            "texts": judged,
            "distinct_texts": len(EPISODE_TEXTS.pop(run_id, set())),
            "batches": int(consent.get("judge_calls", 0)),
            "vetoed": int(consent.get("episodes_vetoed", 0)),
            "failed": int(consent.get("episodes_failed", 0)),
            "flagged": int(consent.get("episodes_flagged", 0)),
            "cache_hits": None if hits is None else int(hits),
            "seconds": float(consent.get("judge_seconds", 0.0)),
            "veto_rate": (int(consent.get("episodes_vetoed", 0)) / judged if judged
                          else float("nan")),
        }
    return RunResult(
        arm=arm, seed=seed, train_s=train_s, eval_s=eval_s, evaluation=evaluation,
        judge=judge, episodes=EPISODE_LOGS.pop(run_id, []), judge_batches=calls,
    )
