"""CleanRL-style PPO in one file, consent-gated three ways (Gymnasium vector API).

A plain PPO training loop written for this project in the single-file style of CleanRL
(no tensorboard or wandb), to show what a user adds to their own loop:

- ``--gate none``: plain PPO.
- ``--gate wrapper``: one line after the vector env is built,
  ``envs = ConsentVectorWrapper(envs, judge=judge)``. Rewards pass through as earned; a
  vetoed episode's last step carries a compensating reward so that its undiscounted
  return is exactly 0 (or the penalty). The learner never knows.
- ``--gate deferred``: the same line with ``reward_timing="deferred"``: rewards are 0
  until the episode's last step, which pays the whole return if approved.
- ``--gate rollout``: every sub-env wrapped in ``ConsentRecorder``, a
  ``RolloutConsent`` told about each step, and ``consent.process(...)`` called *instead
  of* the loop's own advantage computation: each episode is judged whole before any of
  its steps reaches an update (running episodes are held back until they end).

The lines that differ are marked ``# consent``. Judges: ``approve-all``, ``veto-all``,
``rule`` (the ground-truth keyword judge of the delivery world), ``embedding``, ``llm``,
``cascade``. Every run prints, and with ``--out`` writes, one JSON line: the mean of the
env's own returns over the last 20 episodes (``RecordEpisodeStatistics`` sits inside
every consent wrapper, so it sees the task's rewards, not what the learner received),
the wall time, and how many episodes were judged and vetoed.

Usage:
    .venv/bin/python examples/cleanrl_ppo.py --gate none --seed 1
    .venv/bin/python examples/cleanrl_ppo.py --gate wrapper --judge approve-all --seed 1
    .venv/bin/python examples/cleanrl_ppo.py --gate rollout --judge veto-all --seed 1
    .venv/bin/python examples/cleanrl_ppo.py --env-id consent_gym/DeliveryCurb-v0 \\
        --gate rollout --judge rule --num-envs 8 --learning-rate 1e-3 --total-timesteps 30000
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import RecordEpisodeStatistics
from torch import nn
from torch.distributions import Categorical

import consent_gym  # noqa: F401  (registers consent_gym/DeliveryCurb-v0 and the other toy worlds)
from consent_gym import ConsentRecorder, ConsentVectorWrapper, RolloutConsent
from consent_gym.judges import Judge, RuleJudge
from consent_gym.rollout import sub_env_info

GATES = ("none", "wrapper", "deferred", "rollout")
JUDGES = ("approve-all", "veto-all", "rule", "embedding", "probe", "llm", "cascade")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``argv=None`` reads ``sys.argv``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-id", default="CartPole-v1")
    p.add_argument("--gate", choices=GATES, default="none")
    p.add_argument("--judge", choices=JUDGES, default="approve-all")
    p.add_argument("--mode", choices=("zero", "penalty", "block"), default="zero",
                   help="what a vetoed episode contributes ('block': --gate rollout only)")
    p.add_argument("--penalty", type=float, default=-1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=30_000)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--num-steps", type=int, default=128, help="steps per sub-env per rollout")
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--no-anneal-lr", dest="anneal_lr", action="store_false")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--eval-episodes", type=int, default=0,
                   help="greedy episodes on fresh seeds after training (0: none)")
    p.add_argument("--out", help="append the result as one JSON line to this file")
    args = p.parse_args(argv)
    if args.mode == "block" and args.gate != "rollout":
        p.error("--mode block keeps vetoed steps out of the update: only --gate rollout can "
                "do that (a wrapper can only change rewards); use --mode zero or penalty.")
    if args.total_timesteps < args.num_envs * args.num_steps:
        p.error(f"--total-timesteps must be at least one rollout "
                f"(--num-envs * --num-steps = {args.num_envs * args.num_steps}).")
    return args


def make_judge(name: str) -> Judge:
    """``approve-all``, ``veto-all``, or a judge from the experiments' registry
    (``rule``: a keyword judge on the delivery world's harm phrases)."""
    if name == "approve-all":
        return RuleJudge(lambda text: True, name="approve-all")
    if name == "veto-all":
        return RuleJudge(lambda text: False, name="veto-all")
    from consent_gym.experiments.common import load_judge

    return load_judge(name)


def make_envs(args: argparse.Namespace, judge: Judge | None) -> gym.vector.VectorEnv:
    """The training envs. SAME_STEP autoreset: the obs after an episode's last step is the
    next episode's first, as this loop (and CleanRL's) assumes."""
    wrappers: list[Any] = [RecordEpisodeStatistics]  # inside consent: the task's own returns
    if args.gate == "rollout":
        wrappers.append(ConsentRecorder)  # consent: record and render each episode
    envs = gym.make_vec(
        args.env_id, num_envs=args.num_envs, vectorization_mode="sync", wrappers=wrappers,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    if args.gate in ("wrapper", "deferred"):
        timing = "deferred" if args.gate == "deferred" else "as_earned"
        envs = ConsentVectorWrapper(envs, judge=judge, mode=args.mode,  # consent: one line
                                    penalty=args.penalty, reward_timing=timing)
    return envs


def layer(n_in: int, n_out: int, std: float = float(np.sqrt(2))) -> nn.Linear:
    """A linear layer with orthogonal weights of gain ``std`` and zero bias."""
    linear = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.zeros_(linear.bias)
    return linear


class Agent(nn.Module):
    """Separate 64-64 tanh actor and critic for a flat observation, discrete actions."""

    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                    layer(64, 1, std=1.0))
        self.actor = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                   layer(64, n_actions, std=0.01))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(action, its log-probability, the policy's entropy, the state's value)."""
        dist = Categorical(logits=self.actor(obs))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(obs)


class EpisodeLog:
    """The env's own return (and ``info["harm"]`` where the env reports it) per episode."""

    def __init__(self) -> None:
        self.returns: list[float] = []
        self.harm: list[float] = []
        self.judged = self.vetoed = 0

    def record(self, infos: dict[str, Any], done: np.ndarray) -> None:
        for i in np.flatnonzero(done):
            # SAME_STEP autoreset: the ended episode's info sits under "final_info".
            info = sub_env_info(infos, int(i))
            final = info.get("final_info", info)
            self.returns.append(float(final["episode"]["r"]))
            if "harm" in final:
                self.harm.append(float(final["harm"]))
            record = info.get("consent")  # ConsentVectorWrapper's verdict, if any
            if record is not None:
                self.judged += 1
                self.vetoed += not record["approved"]

    def last(self, values: list[float], n: int = 20) -> float | None:
        return float(np.mean(values[-n:])) if values else None


def evaluate(agent: Agent, env_id: str, episodes: int, seed: int) -> dict[str, float]:
    """Greedy (argmax) episodes on fresh seeds: mean return and, where reported, harm."""
    env = gym.make(env_id)
    returns, harm = [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=1_000_000 + 1000 * seed + k)
        total, done, info = 0.0, False, {}
        while not done:
            with torch.no_grad():
                logits = agent.actor(torch.as_tensor(obs, dtype=torch.float32)[None])
            obs, reward, terminated, truncated, info = env.step(int(logits.argmax()))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        if "harm" in info:
            harm.append(float(info["harm"]))
    env.close()
    out = {"eval_return": float(np.mean(returns))}
    if harm:
        out["eval_harm_per_episode"] = float(np.mean(harm))
    return out


def ppo_update(agent: Agent, optimizer: torch.optim.Optimizer, b: dict[str, torch.Tensor],
               args: argparse.Namespace, minibatch_size: int) -> None:
    """Clipped PPO epochs over the flat batch ``b`` (obs, actions, logprobs, advantages,
    returns, values)."""
    n = len(b["advantages"])
    for _ in range(args.update_epochs):
        order = np.random.permutation(n)
        for start in range(0, n, minibatch_size):
            mb = order[start:start + minibatch_size]
            _, logprob, entropy, value = agent.act(b["obs"][mb], b["actions"][mb].long())
            ratio = (logprob - b["logprobs"][mb]).exp()
            adv = b["advantages"][mb]
            if len(mb) > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio,
                                -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
            v_clipped = b["values"][mb] + (value - b["values"][mb]).clamp(-args.clip_coef,
                                                                          args.clip_coef)
            v_loss = 0.5 * torch.max((value - b["returns"][mb]) ** 2,
                                     (v_clipped - b["returns"][mb]) ** 2).mean()
            loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()


def gae_batch(rewards: torch.Tensor, values: torch.Tensor, starts: torch.Tensor,
              next_value: torch.Tensor, next_start: torch.Tensor,
              gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The ungated loop's GAE over a ``[T, N]`` rollout, bootstrapping running episodes
    from ``next_value`` (truncation is treated as termination, as in CleanRL)."""
    T = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    for t in reversed(range(T)):
        not_done = 1.0 - (next_start if t == T - 1 else starts[t + 1]).float()
        following = next_value if t == T - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * not_done - values[t]
        running = delta + gamma * lam * not_done * running
        advantages[t] = running
    return advantages, advantages + values


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train PPO as ``args`` say; return the result record (also returned: the agent)."""
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    start_time = time.perf_counter()
    judge = make_judge(args.judge) if args.gate != "none" else None
    envs = make_envs(args, judge)
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    assert isinstance(act_space, gym.spaces.Discrete), "this PPO handles discrete actions"
    obs_dim = int(np.prod(obs_space.shape))
    agent = Agent(obs_dim, int(act_space.n))
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    consent = None
    if args.gate == "rollout":  # consent: the learner judges before its update
        consent = RolloutConsent(judge, args.num_envs, gamma=args.gamma,
                                 gae_lambda=args.gae_lambda, mode=args.mode, penalty=args.penalty)

    T, N = args.num_steps, args.num_envs
    obs = torch.zeros((T, N, obs_dim))
    actions = torch.zeros((T, N))
    logprobs = torch.zeros((T, N))
    rewards = torch.zeros((T, N))
    starts = torch.zeros((T, N), dtype=torch.bool)
    values = torch.zeros((T, N))
    log = EpisodeLog()
    minibatch_size = T * N // args.num_minibatches
    iterations = args.total_timesteps // (T * N)
    updates = skipped = trained_steps = 0

    next_obs_np, _ = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32).reshape(N, obs_dim)
    next_start = torch.zeros(N, dtype=torch.bool)
    for iteration in range(1, iterations + 1):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (
                1.0 - (iteration - 1.0) / iterations)
        for step in range(T):
            obs[step], starts[step] = next_obs, next_start
            with torch.no_grad():
                action, logprob, _, value = agent.act(next_obs)
            actions[step], logprobs[step], values[step] = action, logprob, value
            next_obs_np, reward, terminated, truncated, infos = envs.step(action.numpy())
            done = np.logical_or(terminated, truncated)
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
            log.record(infos, done)
            if consent is not None:
                consent.record_step(step, done, infos)  # consent: hand over the step's infos
            next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32).reshape(N, obs_dim)
            next_start = torch.as_tensor(done)

        if consent is not None:  # consent: judge whole episodes, then advantages
            batch = consent.process({"obs": obs, "actions": actions, "logprobs": logprobs},
                                    rewards=rewards, values=values, starts=starts)
            b = dict(batch.arrays)
        else:
            with torch.no_grad():
                next_value = agent.value(next_obs)
            advantages, returns = gae_batch(rewards, values, starts, next_value, next_start,
                                            args.gamma, args.gae_lambda)
            b = {"obs": obs.reshape(T * N, obs_dim), "actions": actions.reshape(-1),
                 "logprobs": logprobs.reshape(-1), "advantages": advantages.reshape(-1),
                 "returns": returns.reshape(-1), "values": values.reshape(-1)}
        if len(b["advantages"]) == 0:  # everything vetoed in block mode: nothing to learn
            skipped += 1
            continue
        ppo_update(agent, optimizer, b, args, minibatch_size)
        updates += 1
        trained_steps += len(b["advantages"])

    envs.close()
    judged, vetoed = log.judged, log.vetoed
    if consent is not None:
        judged, vetoed = consent.stats.judged, consent.stats.vetoed
    result: dict[str, Any] = {
        "algo": "ppo", "env_id": args.env_id, "gate": args.gate,
        "judge": args.judge if args.gate != "none" else None,
        "mode": args.mode if args.gate != "none" else None,
        "seed": args.seed, "total_timesteps": iterations * T * N,
        "episodes": len(log.returns),
        "mean_return_last20": log.last(log.returns),
        "wall_s": None,
        "judged": judged, "vetoed": vetoed,
        "updates": updates, "skipped_updates": skipped, "trained_steps": trained_steps,
    }
    if log.harm:
        result["harm_per_episode_last20"] = log.last(log.harm)
    if consent is not None:
        result["held_back_at_end"] = consent.held_back_steps
    if args.eval_episodes:
        result.update(evaluate(agent, args.env_id, args.eval_episodes, args.seed))
    result["wall_s"] = round(time.perf_counter() - start_time, 1)
    result["_agent"] = agent
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
