"""CleanRL-style DQN in one file, consent-gated with one line (Gymnasium vector API).

A DQN learner updates from its replay buffer *during* an episode, before anyone has
judged it: what a one-line wrapper can and cannot do for such a learner is what this
example measures.

- ``--gate none``: plain DQN.
- ``--gate wrapper``: ``envs = ConsentVectorWrapper(envs, judge=judge)``. Rewards pass
  through as earned; a vetoed episode's last transition carries a compensating reward
  (its undiscounted return becomes 0, or the penalty). The transitions before it were
  stored, and possibly learned from, with their own rewards.
- ``--gate deferred``: the same line with ``reward_timing="deferred"``: every reward is 0
  until the episode's last transition, which carries the whole return if approved.

Only a learner integration (the SB3 replay buffer, ``consent_gym.sb3``) keeps a
transition out of the replay buffer until its episode has been judged.

Usage:
    .venv/bin/python examples/cleanrl_dqn.py --gate none --seed 1
    .venv/bin/python examples/cleanrl_dqn.py --gate deferred --judge approve-all --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import RecordEpisodeStatistics
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleanrl_ppo import JUDGES, EpisodeLog, make_judge

from consent_gym import ConsentVectorWrapper

GATES = ("none", "wrapper", "deferred")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``argv=None`` reads ``sys.argv``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-id", default="CartPole-v1")
    p.add_argument("--gate", choices=GATES, default="none")
    p.add_argument("--judge", choices=JUDGES, default="approve-all")
    p.add_argument("--mode", choices=("zero", "penalty"), default="zero")
    p.add_argument("--penalty", type=float, default=-1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=20_000)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--buffer-size", type=int, default=10_000)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--target-network-frequency", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--start-e", type=float, default=1.0)
    p.add_argument("--end-e", type=float, default=0.05)
    p.add_argument("--exploration-fraction", type=float, default=0.5)
    p.add_argument("--learning-starts", type=int, default=1_000)
    p.add_argument("--train-frequency", type=int, default=4)
    p.add_argument("--out", help="append the result as one JSON line to this file")
    args = p.parse_args(argv)
    if args.learning_starts >= args.total_timesteps:
        p.error("--learning-starts must be below --total-timesteps.")
    return args


def make_envs(args: argparse.Namespace) -> gym.vector.VectorEnv:
    """One env (SAME_STEP autoreset), gated by the consent line if asked."""
    envs = gym.make_vec(
        args.env_id, num_envs=1, vectorization_mode="sync",
        wrappers=[RecordEpisodeStatistics],  # inside consent: the task's own returns
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    if args.gate != "none":
        timing = "deferred" if args.gate == "deferred" else "as_earned"
        envs = ConsentVectorWrapper(envs, judge=make_judge(args.judge),  # consent: one line
                                    mode=args.mode, penalty=args.penalty, reward_timing=timing)
    return envs


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, 120), nn.ReLU(), nn.Linear(120, 84),
                                 nn.ReLU(), nn.Linear(84, n_actions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Replay:
    """A ring of ``(obs, action, reward, next_obs, terminated)`` transitions."""

    def __init__(self, size: int, obs_dim: int) -> None:
        self.obs = np.zeros((size, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((size, obs_dim), dtype=np.float32)
        self.actions = np.zeros(size, dtype=np.int64)
        self.rewards = np.zeros(size, dtype=np.float32)
        self.terminated = np.zeros(size, dtype=np.float32)
        self.size, self.pos, self.full = size, 0, False

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, terminated
        self.pos = (i + 1) % self.size
        self.full = self.full or self.pos == 0

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        idx = np.random.randint(0, self.size if self.full else self.pos, n)
        return {k: torch.as_tensor(getattr(self, k)[idx])
                for k in ("obs", "actions", "rewards", "next_obs", "terminated")}


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train DQN as ``args`` say; return the result record."""
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    start_time = time.perf_counter()
    envs = make_envs(args)
    act_space = envs.single_action_space
    assert isinstance(act_space, gym.spaces.Discrete), "DQN needs discrete actions"
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    q = QNetwork(obs_dim, int(act_space.n))
    target = QNetwork(obs_dim, int(act_space.n))
    target.load_state_dict(q.state_dict())
    optimizer = torch.optim.Adam(q.parameters(), lr=args.learning_rate)
    replay = Replay(args.buffer_size, obs_dim)
    log = EpisodeLog()
    explore_steps = max(1, int(args.exploration_fraction * args.total_timesteps))

    obs, _ = envs.reset(seed=args.seed)
    for step in range(args.total_timesteps):
        epsilon = max(args.end_e, args.start_e + (args.end_e - args.start_e) * step / explore_steps)
        if random.random() < epsilon:
            action = random.randrange(int(act_space.n))
        else:
            with torch.no_grad():
                action = int(q(torch.as_tensor(obs, dtype=torch.float32)).argmax())
        next_obs, reward, terminated, truncated, infos = envs.step(np.array([action]))
        done = np.logical_or(terminated, truncated)
        log.record(infos, done)
        # SAME_STEP autoreset: next_obs already starts the next episode; learn from the
        # ended one's last observation (a truncated episode still bootstraps from it).
        real_next = infos["final_obs"][0] if done[0] else next_obs[0]
        replay.add(obs[0], action, float(reward[0]), real_next, bool(terminated[0]))
        obs = next_obs
        if step >= args.learning_starts and step % args.train_frequency == 0:
            b = replay.sample(args.batch_size)
            with torch.no_grad():
                best_next = target(b["next_obs"]).max(dim=1).values
                td_target = b["rewards"] + args.gamma * best_next * (1.0 - b["terminated"])
            predicted = q(b["obs"]).gather(1, b["actions"][:, None]).squeeze(1)
            loss = nn.functional.mse_loss(predicted, td_target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if step % args.target_network_frequency == 0:
            target.load_state_dict(q.state_dict())
    envs.close()
    result: dict[str, Any] = {
        "algo": "dqn", "env_id": args.env_id, "gate": args.gate,
        "judge": args.judge if args.gate != "none" else None,
        "mode": args.mode if args.gate != "none" else None,
        "seed": args.seed, "total_timesteps": args.total_timesteps,
        "episodes": len(log.returns), "mean_return_last20": log.last(log.returns),
        "judged": log.judged, "vetoed": log.vetoed,
        "wall_s": round(time.perf_counter() - start_time, 1),
    }
    if log.harm:
        result["harm_per_episode_last20"] = log.last(log.harm)
    result["_agent"] = q
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = train(args)
    result.pop("_agent")
    line = json.dumps(result)
    print(line)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")
    return result


if __name__ == "__main__":
    main()
