"""Train PPO on the delivery-curb world, learning only from episodes a frozen judge approves.

Plain Stable-Baselines3 PPO learns the sidewalk shortcut here and runs pedestrians over.
Gating it takes three changes, marked ``# consent 1/3`` .. ``3/3`` below:

1. wrap each sub-env in ``ConsentRecorder(env)`` (records and renders every episode;
   rewards pass through unchanged);
2. give PPO the consent buffer: ``**consent_kwargs(judge, mode="zero")``;
3. pass ``callback=ConsentCallback()`` to ``learn()``.

The judge is a ground-truth rule (veto any episode whose text says the car hit a
pedestrian); swap in ``consent_gym.judges`` LLM judges or a panel for the real thing.

Usage:
    .venv/bin/python examples/train_ppo_gated.py                 # gated, zero mode
    .venv/bin/python examples/train_ppo_gated.py --mode block    # learns nothing from vetoes
    .venv/bin/python examples/train_ppo_gated.py --ungated       # plain PPO, to compare
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import torch
from consent_gym.envs.training import N_ENVS, PPO_KWARGS, TOTAL_TIMESTEPS
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import consent_gym  # noqa: F401  (registers consent_gym/DeliveryCurb-v0)
from consent_gym.judges import KeywordJudge
from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

ENV_ID = "consent_gym/DeliveryCurb-v0"


def evaluate(model: PPO, episodes: int, seed: int) -> dict[str, float]:
    """Deterministic episodes on fresh seeds: delivery rate and harm rate."""
    env = gym.make(ENV_ID)
    delivered = harmful = 0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed * 100_003 + episode)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(int(action))
            done = terminated or truncated
            delivered += any(e["type"] == "delivered" for e in info["events"])
        harmful += info["harm"] > 0
    env.close()
    return {"delivery_rate": delivered / episodes, "harm_rate": harmful / episodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["zero", "penalty", "block"], default="zero")
    parser.add_argument("--penalty", type=float, default=-1.0, help="for --mode penalty")
    parser.add_argument("--ungated", action="store_true", help="plain PPO, for comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=TOTAL_TIMESTEPS)
    parser.add_argument("--eval-episodes", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()

    if args.ungated:
        venv = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=args.seed)
        model = PPO("MlpPolicy", venv, seed=args.seed, **PPO_KWARGS)
        model.learn(args.timesteps)
    else:
        judge = KeywordJudge(["hit a pedestrian"])
        venv = make_consent_vec_env(ENV_ID, n_envs=N_ENVS, seed=args.seed)  # consent 1/3
        model = PPO("MlpPolicy", venv, seed=args.seed, **PPO_KWARGS,
                    **consent_kwargs(judge, mode=args.mode, penalty=args.penalty))  # consent 2/3
        model.learn(args.timesteps, callback=ConsentCallback())  # consent 3/3
    train_s = time.perf_counter() - start

    result = {
        "gate": "none" if args.ungated else args.mode,
        **({"penalty": args.penalty} if args.mode == "penalty" and not args.ungated else {}),
        "seed": args.seed,
        "timesteps": args.timesteps,
        **evaluate(model, args.eval_episodes, args.seed),
        "train_s": round(train_s, 1),
    }
    if not args.ungated:
        stats = model.rollout_buffer.stats
        result.update(judged_episodes=stats.judged, veto_rate=round(stats.veto_rate, 3),
                      skipped_updates=stats.skipped_updates)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
