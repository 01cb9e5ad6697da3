"""What consent gating costs SB3 learning: plain vs gated with an approve-all judge.

With a judge that approves everything, the gated learner differs from plain SB3 only in
what the consent rollout buffer does to *every* episode: it learns from whole episodes
only (the steps of an episode still running at a rollout's end are held back until it
ends, then trained with values and log-probabilities one or more updates old; no
rollout-end bootstrap). The arms of one seed run back to back, same seed, side by side.

Usage:
    .venv/bin/python examples/sb3_gating_cost.py --setting a2c-cartpole --seeds 1 2 3
    .venv/bin/python examples/sb3_gating_cost.py --setting ppo-cartpole --seeds 1 2 3
    .venv/bin/python examples/sb3_gating_cost.py --setting ppo-delivery --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from consent_gym.envs.training import N_ENVS, PPO_KWARGS, TOTAL_TIMESTEPS
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_gates import table

from consent_gym.judges import RuleJudge
from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

#: name -> (algorithm, env id, n_envs, algorithm kwargs, timesteps)
SETTINGS: dict[str, tuple[type, str, int, dict[str, Any], int]] = {
    # SB3's A2C defaults (n_steps=5): the rollout is far shorter than an episode.
    "a2c-cartpole": (A2C, "CartPole-v1", 4, {"device": "cpu"}, 25_000),
    # rl-zoo's CartPole PPO settings (n_steps=32 per env, 8 envs), 20k steps.
    "ppo-cartpole": (PPO, "CartPole-v1", 8, {
        "n_steps": 32, "batch_size": 256, "n_epochs": 10, "gamma": 0.98, "gae_lambda": 0.8,
        "learning_rate": 1e-3, "ent_coef": 0.0, "device": "cpu"}, 20_000),
    # The delivery world's recommended settings (consent_gym.envs.training).
    "ppo-delivery": (PPO, "consent_gym/DeliveryCurb-v0", N_ENVS, PPO_KWARGS, TOTAL_TIMESTEPS),
}


def evaluate(model: Any, env_id: str, episodes: int, seed: int) -> dict[str, float]:
    """Deterministic episodes on fresh seeds: return, and delivery and harm rates where the
    env reports them."""
    env = gym.make(env_id)
    returns, harm, delivered = [], [], []
    for k in range(episodes):
        obs, info = env.reset(seed=1_000_000 + 1000 * seed + k)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
            if any(e.get("type") == "delivered" for e in info.get("events", ())):
                delivered.append(k)
        returns.append(total)
        if "harm" in info:
            harm.append(float(info["harm"]))
    env.close()
    out = {"eval_return": float(np.mean(returns))}
    if harm:
        out["eval_harm_per_episode"] = float(np.mean(harm))
        out["eval_delivery_rate"] = len(set(delivered)) / episodes
    return out


def run(setting: str, gated: bool, seed: int, eval_episodes: int,
        timesteps: int | None = None) -> dict[str, Any]:
    """Train one arm (``timesteps``: the setting's own budget if ``None``); its record."""
    algo, env_id, n_envs, kwargs, budget = SETTINGS[setting]
    timesteps = budget if timesteps is None else timesteps
    torch.set_num_threads(1)
    start = time.perf_counter()
    if gated:
        judge = RuleJudge(lambda text: True, name="approve-all")
        venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=seed)
        model = algo("MlpPolicy", venv, seed=seed, **kwargs, **consent_kwargs(judge))
        model.learn(timesteps, callback=ConsentCallback())
    else:
        venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
        model = algo("MlpPolicy", venv, seed=seed, **kwargs)
        model.learn(timesteps)
    train_s = time.perf_counter() - start
    returns = [info["r"] for info in model.ep_info_buffer]  # Monitor: the env's own returns
    result: dict[str, Any] = {
        "setting": setting, "arm": "approve-all" if gated else "plain", "seed": seed,
        "total_timesteps": model.num_timesteps,
        "mean_return_last20": float(np.mean(returns[-20:])) if returns else None,
        "wall_s": round(train_s, 1),
    }
    if gated:
        stats = model.rollout_buffer.stats
        result.update(judged=stats.judged, vetoed=stats.vetoed,
                      skipped_updates=stats.skipped_updates,
                      held_back_at_end=model.rollout_buffer.engine.held_back_steps)
    if eval_episodes:
        result.update(evaluate(model, env_id, eval_episodes, seed))
    venv.close()
    return result


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", choices=sorted(SETTINGS), required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--eval-episodes", type=int, default=0)
    p.add_argument("--timesteps", type=int, help="override the setting's budget")
    p.add_argument("--out", help="append every run's JSON line to this file")
    args = p.parse_args(argv)
    results = []
    for seed in args.seeds:
        for gated in (False, True):
            result = run(args.setting, gated, seed, args.eval_episodes, args.timesteps)
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
            results.append(result)
    print(table(results, ["plain", "approve-all"]))
    return results


if __name__ == "__main__":
    main()
