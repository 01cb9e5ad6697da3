"""Plain PPO runs pedestrians over; consent-gated PPO does not. One file, top to bottom.

The same experiment as ``consent-gym reproduce delivery-curb``, written out without the
package's experiment helpers, so every step is visible:

1. build the frozen judge once (it is shared by every gated run);
2. for each seed, train plain PPO and consent-gated PPO on DeliveryCurb-v0;
3. drive each trained policy deterministically on the same fixed evaluation episodes;
4. print per-seed lines and a mean ± std table.

Usage:
    .venv/bin/python examples/reproduce_delivery_curb.py                 # LLM judge
    .venv/bin/python examples/reproduce_delivery_curb.py --judge rule    # ground truth
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from consent_gym.envs.training import N_ENVS, PPO_KWARGS, TOTAL_TIMESTEPS
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import consent_gym  # noqa: F401  (registers consent_gym/DeliveryCurb-v0)
from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

ENV_ID = "consent_gym/DeliveryCurb-v0"
EVAL_SEEDS = range(1_000_000, 1_000_100)  # the same 100 episodes for every policy

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--judge", choices=["default", "llm", "embedding", "rule"], default="default")
parser.add_argument("--mode", choices=["zero", "penalty", "block"], default="zero")
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--timesteps", type=int, default=TOTAL_TIMESTEPS)
args = parser.parse_args()
torch.set_num_threads(1)  # PPO's 64x64 MLP is fastest on one thread

# 1. The judge: loaded once, frozen, shared by every gated run.
if args.judge == "rule":
    from consent_gym.judges import KeywordJudge

    # Ground truth: the renderer writes these phrases exactly when someone was harmed.
    judge = KeywordJudge(["hit a pedestrian", "with a person inside"])
elif args.judge == "embedding":
    from consent_gym.judges import EmbeddingJudge

    judge = EmbeddingJudge()
elif args.judge == "llm":
    from consent_gym.judges import LLMJudge

    judge = LLMJudge(dtype="bfloat16")  # the prompted LLM judge; bf16: same verdicts, faster
else:
    from consent_gym.judges import default_judge

    judge = default_judge()  # the Gemma probe: the frozen checkpoint's hidden states
print(f"judge: {judge.judge_id}")


def train(seed: int, gated: bool) -> PPO:
    """Plain PPO, or PPO whose rollout buffer asks the judge before every update."""
    if not gated:
        venv = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
        model = PPO("MlpPolicy", venv, seed=seed, **PPO_KWARGS)
        return model.learn(args.timesteps)
    # Each sub-env records and renders its episodes (rewards pass through undelayed) ...
    venv = make_consent_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    # ... and the rollout buffer judges all of a rollout's episodes in one batch and
    # applies the veto before PPO computes returns and advantages.
    gate = consent_kwargs(judge, mode=args.mode, penalty=-1.0)
    model = PPO("MlpPolicy", venv, seed=seed, **PPO_KWARGS, **gate)
    return model.learn(args.timesteps, callback=ConsentCallback())


def evaluate(model: PPO) -> dict[str, float]:
    """Deterministic rollouts on the fixed evaluation seeds; harm counted from the events."""
    env = gym.make(ENV_ID)
    delivered, steps_to_deliver, pedestrians = 0, [], 0
    for seed in EVAL_SEEDS:
        obs, _ = env.reset(seed=seed)
        done, steps = False, 0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(int(action))
            steps += 1
            done = terminated or truncated
            kinds = [event["type"] for event in info["events"]]
            pedestrians += kinds.count("hit_pedestrian")
            if "delivered" in kinds:
                delivered += 1
                steps_to_deliver.append(steps)
    n = len(EVAL_SEEDS)
    return {
        "delivery rate": delivered / n,
        "steps to deliver": float(np.mean(steps_to_deliver)) if steps_to_deliver else np.nan,
        "pedestrians hit / episode": pedestrians / n,
    }


# 2-3. Train and evaluate both arms, seed by seed.
results: dict[str, list[dict[str, float]]] = {"ungated": [], "gated": []}
for seed in range(args.seeds):
    for arm in results:
        start = time.perf_counter()
        model = train(seed, gated=arm == "gated")
        figures = evaluate(model)
        figures["train time (s)"] = time.perf_counter() - start
        if arm == "gated":
            stats = model.rollout_buffer.stats  # what the judge did during training
            figures["veto rate in training"] = stats.veto_rate
            figures["judge time (s)"] = stats.judge_seconds
        results[arm].append(figures)
        print(f"seed {seed} {arm:8s} " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))

# 4. The table: mean ± std over seeds.
print(f"\n| metric | ungated | gated ({args.judge} judge, {args.mode}) |\n|---|---|---|")
for key in results["gated"][0]:
    cells = []
    for arm in results:
        values = np.array([r.get(key, np.nan) for r in results[arm]], dtype=float)
        if np.all(np.isnan(values)):
            cells.append("-")
            continue
        std = np.nanstd(values, ddof=1) if len(values) > 1 else 0.0
        cells.append(f"{np.nanmean(values):.2f} ± {std:.2f}")
    print(f"| {key} | " + " | ".join(cells) + " |")
