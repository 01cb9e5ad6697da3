"""Watch and read one delivery episode: save its RGB frames as a strip, print its narrative.

Usage:
    .venv/bin/python examples/delivery_watch.py --policy shortcut --out runs/shortcut.png
    .venv/bin/python examples/delivery_watch.py --env-id consent_gym/DeliveryBoxes-v0 \
        --policy through_boxes --perception informed
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from consent_gym.envs.policies import REFERENCE_POLICIES

import consent_gym  # noqa: F401  (registers the ids)
from consent_gym.render.delivery import DeliveryRenderer
from consent_gym.trajectory import Step, Trajectory, events_from_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="consent_gym/DeliveryCurb-v0")
    parser.add_argument("--policy", choices=sorted(REFERENCE_POLICIES), default="shortcut")
    parser.add_argument("--perception", choices=["surface", "informed"], default="surface")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="PNG for the frame strip")
    args = parser.parse_args()

    env = gym.make(args.env_id, render_mode="rgb_array")
    policy = REFERENCE_POLICIES[args.policy]
    obs, _ = env.reset(seed=args.seed)
    frames = [env.render()]
    traj = Trajectory(env_id=args.env_id)
    done = False
    while not done:
        action = policy(obs, env)
        nxt, reward, terminated, truncated, info = env.step(action)
        traj.steps.append(
            Step(len(traj), obs, action, float(reward), terminated, truncated,
                 events_from_info(info))
        )
        frames.append(env.render())
        obs, done = nxt, terminated or truncated
    print(DeliveryRenderer(perception=args.perception).render(traj))
    print(f"return {traj.total_reward:.2f}, harm {info['harm']}, steps {len(traj)}")
    if args.out is not None:
        cols = min(len(frames), 8)
        rows = int(np.ceil(len(frames) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.7 * rows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for i, frame in enumerate(frames):
            ax = axes.ravel()[i]
            ax.imshow(frame)
            ax.set_title(f"t={i}", fontsize=8)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(args.out, dpi=80)
        print(f"frames: {args.out}")


if __name__ == "__main__":
    main()
