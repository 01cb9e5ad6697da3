"""What gating costs in training: wall time of gated vs ungated PPO, and where it goes.

``consent-gym bench train``: the arms alternate (ungated, gated, ...) with the same seed;
the gated arm is the SB3 integration, and its judging is checked (one judge call per
rollout, duplicates, texts judged twice, the cache hit rate).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


class _CountingJudge:
    """Forwards to a judge and records every call's texts and wall time.

    Everything else (``judge_id``, ``cache``, ...) is read from the wrapped judge, so the
    SB3 buffer sees the same cache counters and ids.
    """

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self.calls: list[list[str]] = []
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.judge, name)

    def judge_batch(self, texts: Sequence[str]) -> list[Any]:
        texts = list(texts)
        self.calls.append(texts)
        start = time.perf_counter()
        try:
            return list(self.judge.judge_batch(texts))
        finally:
            self.seconds += time.perf_counter() - start


@dataclass(frozen=True)
class TrainArm:
    """One PPO run: wall time of ``learn()`` and the part spent in ``train()`` (updates)."""

    gated: bool
    seconds: float
    update_seconds: float
    judge_seconds: float = 0.0
    #: Seed of the run (both arms of one repeat share it).
    seed: int = 0
    #: Mean return of the learned policy (deterministic) over evaluation episodes of the
    #: plain env, ungated: what the agent learned, whatever the judge let it see.
    mean_return: float = float("nan")

    @property
    def rollout_seconds(self) -> float:
        """Collecting rollouts (env steps, policy forward, recording, rendering)."""
        return self.seconds - self.update_seconds - self.judge_seconds


@dataclass
class TrainBench:
    """Gated vs ungated PPO on one env for the same timesteps (``consent-gym bench train``)."""

    env_id: str
    timesteps: int
    n_envs: int
    judge_id: str
    mode: str
    ungated: list[TrainArm]
    gated: list[TrainArm]
    judge_calls: int
    rollouts: int
    texts_judged: int
    distinct_texts: int
    duplicates_within_calls: int
    repeated_across_calls: int
    finished_pieces: int
    fragment_pieces: int
    episodes_judged_twice: int
    cache_hit_rate: float | None
    veto_rate: float
    warm_from_seed: int | None = None

    @property
    def gated_over_ungated(self) -> float:
        """Median gated wall time over median ungated wall time."""
        return (statistics.median(a.seconds for a in self.gated)
                / statistics.median(a.seconds for a in self.ungated))

    @property
    def mean_returns(self) -> tuple[float, float]:
        """(ungated, gated) mean of the arms' evaluation returns."""
        return (statistics.fmean(a.mean_return for a in self.ungated),
                statistics.fmean(a.mean_return for a in self.gated))

    @property
    def return_ratio(self) -> float | None:
        """Gated over ungated mean evaluation return; ``None`` when the ungated mean is not
        positive (a ratio of negative returns says nothing)."""
        ungated, gated = self.mean_returns
        return gated / ungated if ungated > 0 else None

    @property
    def judge_share(self) -> float:
        """The judge's share of the gated wall time (medians over repeats)."""
        return (statistics.median(a.judge_seconds for a in self.gated)
                / statistics.median(a.seconds for a in self.gated))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("ungated", "gated"):
            out[key] = [{**asdict(a), "rollout_seconds": a.rollout_seconds}
                        for a in getattr(self, key)]
        ungated, gated = self.mean_returns
        return {"gated_over_ungated": self.gated_over_ungated, "judge_share": self.judge_share,
                "mean_return_ungated": ungated, "mean_return_gated": gated,
                "return_ratio": self.return_ratio, **out}


def _timed_learn(model: Any, timesteps: int, callback: Any) -> tuple[float, float]:
    """``model.learn`` wall time and the part spent in ``model.train()``."""
    spent = [0.0]

    def train() -> None:
        start = time.perf_counter()
        try:
            type(model).train(model)  # the class current at call time (the callback swaps it)
        finally:
            spent[0] += time.perf_counter() - start

    model.train = train
    start = time.perf_counter()
    model.learn(timesteps, callback=callback)
    seconds = time.perf_counter() - start
    del model.train
    return seconds, spent[0]


def _evaluate(model: Any, env_id: str, seed: int, episodes: int) -> float:
    """Mean return of ``model``'s deterministic policy over ``episodes`` of the plain env."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_vec_env(env_id, n_envs=1, seed=10_000 + seed)
    try:
        returns: Any
        returns, _ = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=True,
                                     return_episode_rewards=True)
    finally:
        env.close()
    return statistics.fmean(returns)


def bench_train(
    judge: Any = None,
    timesteps: int = 10_240,
    env_id: str = "consent_gym/DeliveryCurb-v0",
    repeats: int = 1,
    seed: int = 0,
    mode: str = "zero",
    n_envs: int | None = None,
    ppo_kwargs: dict[str, Any] | None = None,
    warm_from_seed: int | None = None,
    eval_episodes: int = 10,
) -> TrainBench:
    """Wall time of gated vs ungated PPO for the same timesteps, and where it goes.

    Arms alternate (ungated, gated, ungated, gated, ...); repeat ``r`` runs both arms with
    seed ``seed + r``; the env's tuned
    ``PPO_KWARGS`` and ``N_ENVS`` (``consent_gym.envs.training``). The gated arm is the
    SB3 integration: ``make_consent_vec_env`` + ``consent_kwargs(judge, mode=mode)`` +
    ``ConsentCallback``. Each gated repeat starts with an empty verdict cache (when the
    judge, or a cascade's ``first`` or ``second`` judge, has a ``cache`` attribute holding
    a :class:`~consent_gym.judges.VerdictCache`), so repeats are comparable. Judge load
    time is not counted (it is a one-off; see ``bench judge``).

    Also checks the judging itself, over the last gated repeat: judge calls per rollout
    (one expected), texts per call, duplicates inside one call (each is scored by the LLM
    again when the judge does not deduplicate), texts already judged in an earlier call
    (cache hits), finished episodes judged more than once (expected 0), and the cache hit
    rate the SB3 buffer reports.

    Args:
        judge: Any judge; ``None`` loads the default LLM judge.
        timesteps: PPO timesteps per run.
        env_id: Gymnasium id.
        repeats: Runs per arm (repeat ``r`` with seed ``seed + r``).
        seed: Seed of both arms' first repeat.
        mode: Veto mode of the gated arm.
        n_envs: Sub-envs (default ``N_ENVS``).
        ppo_kwargs: PPO keyword arguments (default ``PPO_KWARGS``).
        warm_from_seed: Before each timed gated run, fill its fresh verdict cache with one
            untimed gated run of this seed (a frozen judge's earlier verdicts, as in a
            sweep over seeds that shares a cache file); ``None``: start cold.
        eval_episodes: After each run (untimed), the learned deterministic policy plays
            this many episodes of the plain env; their mean return is the arm's
            ``mean_return``, so a judge that vetoes what the agent needs shows as a lower
            gated return.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList
    from stable_baselines3.common.env_util import make_vec_env

    import consent_gym  # noqa: F401  (registers the consent_gym/* ids)
    from consent_gym.envs.training import N_ENVS, PPO_KWARGS
    from consent_gym.judges.cache import VerdictCache
    from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

    if timesteps < 1 or repeats < 1 or eval_episodes < 1:
        raise ValueError(f"timesteps, repeats and eval_episodes must be >= 1, got {timesteps}, "
                         f"{repeats}, {eval_episodes}.")
    if judge is None:
        from consent_gym.judges import default_judge

        judge = default_judge()
    n_envs = N_ENVS if n_envs is None else n_envs
    kwargs = dict(PPO_KWARGS if ppo_kwargs is None else ppo_kwargs)

    class PieceLog(BaseCallback):
        """Reads each rollout's judged pieces from the consent buffer."""

        def __init__(self) -> None:
            super().__init__()
            self.pieces: list[Any] = []
            self.rollouts = 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            self.rollouts += 1
            buffer: Any = getattr(self.model, "rollout_buffer")  # noqa: B009  (PPO's, not typed)
            self.pieces += [d.piece for d in buffer.decisions]

    veto_mode: Any = mode
    warm_up = PPO("MlpPolicy", make_vec_env(env_id, n_envs=n_envs, seed=seed), seed=seed, **kwargs)
    warm_up.learn(1)  # one rollout and update: torch and SB3 warmed before either arm
    ungated: list[TrainArm] = []
    gated: list[TrainArm] = []
    counting = _CountingJudge(judge)
    log = PieceLog()
    model: Any = None
    for repeat in range(repeats):
        run_seed = seed + repeat
        venv = make_vec_env(env_id, n_envs=n_envs, seed=run_seed)
        model = PPO("MlpPolicy", venv, seed=run_seed, **kwargs)
        timed = _timed_learn(model, timesteps, None)
        ungated.append(TrainArm(False, *timed, seed=run_seed,
                                mean_return=_evaluate(model, env_id, run_seed, eval_episodes)))
        venv.close()

        parts: list[Any] = [judge, getattr(judge, "first", None), getattr(judge, "second", None)]
        for part in parts:
            if isinstance(getattr(part, "cache", None), VerdictCache):  # also a cascade's
                part.cache = VerdictCache()
        if warm_from_seed is not None:  # an earlier run's verdicts, untimed
            venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=warm_from_seed)
            earlier = PPO("MlpPolicy", venv, seed=warm_from_seed, **kwargs,
                          **consent_kwargs(judge, mode=veto_mode))
            earlier.learn(timesteps, callback=ConsentCallback())
            venv.close()
        counting.calls, counting.seconds = [], 0.0
        log = PieceLog()
        venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=run_seed)
        gate = consent_kwargs(counting, mode=veto_mode)
        model = PPO("MlpPolicy", venv, seed=run_seed, **kwargs, **gate)
        seconds, update = _timed_learn(model, timesteps, CallbackList([ConsentCallback(), log]))
        gated.append(TrainArm(True, seconds, update, counting.seconds, seed=run_seed,
                              mean_return=_evaluate(model, env_id, run_seed, eval_episodes)))
        venv.close()

    seen: set[str] = set()
    within = across = 0
    for texts in counting.calls:
        distinct = set(texts)
        within += len(texts) - len(distinct)
        across += sum(text in seen for text in texts)
        seen |= distinct
    finished = [(p.env_index, p.episode_index) for p in log.pieces if p.finished]
    stats = model.rollout_buffer.stats
    return TrainBench(
        env_id=env_id,
        timesteps=timesteps,
        n_envs=n_envs,
        judge_id=str(getattr(judge, "judge_id", type(judge).__name__)),
        mode=mode,
        ungated=ungated,
        gated=gated,
        judge_calls=len(counting.calls),
        rollouts=log.rollouts,
        texts_judged=sum(len(t) for t in counting.calls),
        distinct_texts=len(seen),
        duplicates_within_calls=within,
        repeated_across_calls=across,
        finished_pieces=len(finished),
        fragment_pieces=sum(not p.finished for p in log.pieces),
        episodes_judged_twice=len(finished) - len(set(finished)),
        cache_hit_rate=stats.cache_hit_rate,
        veto_rate=stats.veto_rate,
        warm_from_seed=warm_from_seed,
    )
