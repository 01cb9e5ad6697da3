"""Shared machinery of the reproductions: judges, training, evaluation.

Every reproduction follows the same shape: build the judge once, train PPO once per arm
(ungated or gated) and seed, sequentially in one process, evaluate each trained policy on
one fixed list of episode seeds, aggregate over training seeds (mean and spread), print a
table, write ``results.json`` and PNG plots. The pieces here are small and independent so
the tests can check each on its own with a rule judge and a tiny budget. Aggregation,
the table and ``results.json`` are in :mod:`consent_gym.experiments.report`, the plots in
:mod:`consent_gym.experiments.plots`, the episode metrics (counted from the env's ``info``)
in :mod:`consent_gym.envs.metrics`.

Example:
    >>> eval_seed_list(2)
    [1000000, 1000001]
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consent_gym.envs.metrics import EpisodeStats, episode_metrics, run_policy
from consent_gym.gate import ConsentStats, JudgeCall, check_mode
from consent_gym.judge_registry import (
    DEFAULT_JUDGE,
    JUDGE_CHOICES,
    MissingDependencyError,
    load_judge,
)
from consent_gym.judges.base import Judge, Verdict, verify_frozen

#: Judges that run a model in this process: judged on every core (:class:`ThreadedJudge`).
_MODEL_JUDGES: tuple[str, ...] = ("probe", "probe-minilm", "llm")
#: The RL libraries a reproduction can train with.
ENGINES: tuple[str, ...] = ("sb3", "rllib")
#: First seed of the fixed evaluation episodes (far from any training seed).
EVAL_SEED_BASE = 1_000_000


class ThreadedJudge:
    """A judge that runs on ``threads`` torch threads while the learner trains on its own.

    PPO's small MLP trains fastest on one torch thread; an LLM judge's large matmuls want
    every core, and torch's thread count is process-wide, so it is swapped per batch. It
    is the same judge otherwise: ``judge_id``, cache statistics and the frozen check are
    the wrapped judge's. What the judge decided is counted by the decision step
    (:class:`~consent_gym.gate.ConsentStats`), not here.

    Example:
        >>> from consent_gym.judges import KeywordJudge
        >>> judge = ThreadedJudge(KeywordJudge(["hit a pedestrian"]), threads=1)
        >>> [v.approved for v in judge.judge_batch(["road", "hit a pedestrian"])]
        [True, False]
    """

    def __init__(self, judge: Judge, threads: int | None = None) -> None:
        self.judge = judge
        self.judge_id = judge.judge_id
        self.threads = threads

    @property
    def cache_stats(self) -> Any:
        """The wrapped judge's ``cache_stats``, else its ``cache`` (``None`` without)."""
        stats = getattr(self.judge, "cache_stats", None)
        return stats if stats is not None else getattr(self.judge, "cache", None)

    def verify_frozen(self, full: bool = True) -> None:
        """The wrapped judge's frozen-weights check."""
        verify_frozen(self.judge, full=full)

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """The wrapped judge's verdicts, computed on :attr:`threads` torch threads."""
        with torch_threads(self.threads):
            return self.judge.judge_batch(texts)

    def __repr__(self) -> str:
        return f"ThreadedJudge({self.judge!r}, threads={self.threads})"


@functools.cache
def shared_judge(name: str, dtype: str | None = None) -> Judge:
    """:func:`load_judge` (a model judge on every core: :class:`ThreadedJudge`), once per process.

    ``functools.partial(shared_judge, name, dtype)`` is a picklable judge factory: an RLlib
    EnvRunner in this process gets the judge already loaded here, with its verdict cache.
    """
    inner = load_judge(name, dtype)
    return ThreadedJudge(inner, threads=os.cpu_count()) if name in _MODEL_JUDGES else inner


def load_experiment_judge(
    name: str, log: Callable[[str], Any] = print, dtype: str | None = None,
    served: dict[str, Any] | None = None,
) -> tuple[Judge, float]:
    """:func:`shared_judge` and its load time (0 when this process had loaded it);
    ``served``: a served judge's options (:func:`load_judge`), loaded fresh, not shared."""
    start = time.perf_counter()
    slow = " (the first load converts the packaged model: about a minute)"
    hint = {"llm": slow, "probe": slow, "cascade": slow,
            "embedding": " (a few seconds)"}.get(name, "")
    log(f"Loading the {name} judge{hint} ...")
    judge = shared_judge(name, dtype) if served is None else load_judge(name, dtype,
                                                                         served=served)
    inner = judge.judge if isinstance(judge, ThreadedJudge) else judge
    seconds = time.perf_counter() - start
    weights = getattr(inner, "dtype", None)
    note = f" ({str(weights).removeprefix('torch.')} weights)" if weights is not None else ""
    log(f"Judge {judge.judge_id}{note} ready in {seconds:.1f} s.")
    return judge, seconds


@dataclass
class ExperimentConfig:
    """Settings every reproduction shares.

    Attributes:
        out: Folder for ``results.json`` and the plots.
        timesteps: PPO training budget per run (``None``: the env's recommended budget).
        seeds: Number of training seeds (``first_seed .. first_seed+seeds-1``), run one
            after the other.
        first_seed: The first training seed (default 0): more seeds for an earlier run
            without re-running the ones it has.
        judge: ``"probe"`` (the default judge), ``"llm"``, ``"cascade"``, ``"embedding"``,
            ``"rule"`` or ``"served"`` (see
            :func:`load_judge`).
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"``; ``docs/results.md``
            shows why ``block`` alone does not teach an agent to avoid harm.
        penalty: Last-step reward of a vetoed episode in ``penalty`` mode, on the scale of
            the env's rewards (a delivery earns 1).
        eval_episodes: Evaluation episodes per trained policy (fixed seeds).
        n_envs: DummyVecEnv copies (``None``: the env's recommended number).
        torch_threads: ``torch.set_num_threads`` for training (``None``: leave as is).
        progress: Show progress bars.
        step_numbers: Render episodes for the judge with step numbers (the delivery
            renderer's own text, the default: the LLM judge misjudges the step-free text,
            see ``docs/results.md``); off: the same narrative without step numbers
            (``DeliveryRenderer(step_numbers=False)``), far fewer distinct texts.
        engine: ``"sb3"`` (default: Stable-Baselines3 PPO) or ``"rllib"`` (Ray RLlib PPO,
            :mod:`consent_gym.experiments.rllib_training`).
        judge_dtype: The LLM judge's weight dtype: ``"auto"`` (default) is bfloat16 where
            the CPU multiplies it natively (this project's CPU: bf16 judged the same and
            about 2x faster than float32), else float32; or ``"bfloat16"`` /
            ``"float32"``.
        ppo_kwargs: Overrides of the env's recommended PPO settings.
        served_judge: For ``judge="served"``: the
            :class:`~consent_gym.judges.served.ServedJudge` options (``base_url``,
            ``model``, ``lock``, ...).
    """

    out: Path = Path("runs/experiment")
    timesteps: int | None = None
    seeds: int = 3
    first_seed: int = 0
    judge: str = DEFAULT_JUDGE
    mode: str = "zero"
    penalty: float = -1.0
    eval_episodes: int = 100
    n_envs: int | None = None
    torch_threads: int | None = 1
    progress: bool = True
    step_numbers: bool = True
    judge_dtype: str | None = "auto"
    engine: str = "sb3"
    ppo_kwargs: dict[str, Any] = field(default_factory=dict)
    served_judge: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}.")
        if self.judge not in JUDGE_CHOICES:
            raise ValueError(f"judge must be one of {JUDGE_CHOICES}, got {self.judge!r}.")
        check_mode(self.mode)
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}.")
        if isinstance(self.first_seed, bool) or not isinstance(self.first_seed, int) \
                or self.first_seed < 0:
            raise ValueError(f"first_seed must be a whole number >= 0, got {self.first_seed!r}.")
        if self.timesteps is not None and self.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}.")

    def seed_list(self) -> list[int]:
        """The training seeds.

        Example:
            >>> ExperimentConfig(seeds=3, first_seed=3).seed_list()
            [3, 4, 5]
        """
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def resolved(self) -> tuple[int, int, dict[str, Any]]:
        """Timesteps, number of envs and PPO kwargs, with the env's recommendations filled in."""
        from consent_gym.envs.training import N_ENVS, PPO_KWARGS, TOTAL_TIMESTEPS

        timesteps = TOTAL_TIMESTEPS if self.timesteps is None else self.timesteps
        n_envs = N_ENVS if self.n_envs is None else self.n_envs
        return timesteps, n_envs, {**PPO_KWARGS, **self.ppo_kwargs}


# ------------------------------------------------------------------------- training
@dataclass
class GateSpec:
    """How an arm is gated: the judge, how the episode is rendered for it, the veto mode.

    Attributes:
        judge: The judge; shared across seeds.
        mode: ``"block"``, ``"zero"`` or ``"penalty"``.
        renderer: Renders episodes for the judge; ``None`` uses the env's registered one.
        penalty: Last-step reward of a vetoed episode in ``penalty`` mode.
        judge_factory: For the RLlib engine: a picklable callable that returns the judge
            in the EnvRunner (e.g. ``functools.partial(shared_judge, name, dtype)``).
    """

    judge: Judge
    mode: str = "zero"
    renderer: Any = None
    penalty: float = -1.0
    judge_factory: Callable[[], Judge] | None = None


@dataclass(frozen=True)
class EpisodeMetrics:
    """What an experiment counts per episode and how it aggregates them: the delivery
    worlds' :class:`~consent_gym.envs.metrics.EpisodeStats` by default
    (:data:`DELIVERY_METRICS`), a driving env's own elsewhere.

    Attributes:
        new_episode: Makes an empty per-episode record with ``add_step(reward, info)``,
            and writable ``timestep`` and ``episode_return`` attributes.
        aggregate: Evaluation episodes' records -> the run's evaluation metrics.
        describe: One log line about a finished :class:`RunResult`.
    """

    new_episode: Callable[[], Any]
    aggregate: Callable[[Sequence[Any]], dict[str, float]]
    describe: Callable[[RunResult], str]


@dataclass
class RunResult:
    """One trained policy: its training log, judge figures and evaluation.

    Attributes:
        arm: The arm's name.
        seed: The training seed.
        train_s: Wall time of training (judging included).
        eval_s: Wall time of the evaluation.
        evaluation: The evaluation episodes aggregated (:attr:`EpisodeMetrics.aggregate`).
        judge: :meth:`~consent_gym.gate.ConsentStats.totals` over training (empty for
            ungated arms).
        episodes: Every training episode (the records of
            :attr:`EpisodeMetrics.new_episode`), for learning curves.
        judge_batches: Every judge call, for the veto-rate curve.
        flag_timesteps: Training timesteps of flagged verdicts (panel disagreements).
        verdicts: One entry per distinct judged text (text, verdict, count), most judged
            first.
    """

    arm: str
    seed: int
    train_s: float
    eval_s: float
    evaluation: dict[str, float]
    judge: dict[str, Any] = field(default_factory=dict)
    episodes: list[Any] = field(default_factory=list)
    judge_batches: list[JudgeCall] = field(default_factory=list)
    flag_timesteps: list[int] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def make_ppo(
    env_id: str,
    seed: int,
    gate: GateSpec | None,
    n_envs: int,
    ppo_kwargs: Mapping[str, Any],
    stats: ConsentStats | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> tuple[Any, list[Any]]:
    """An SB3 PPO on ``n_envs`` DummyVecEnv copies of ``env_id``, gated per ``gate``
    (``env_kwargs``: keyword arguments for ``gym.make``).

    Gating uses :mod:`consent_gym.sb3`: each sub-env is wrapped by
    :class:`~consent_gym.ConsentRecorder` (rendering with ``gate.renderer``), and the
    consent rollout buffer judges each rollout's finished episodes in one batch before
    returns and advantages are computed, counting in ``stats``.

    Returns:
        The model and the callbacks ``learn()`` needs (the :class:`ConsentCallback`).

    Raises:
        MissingDependencyError: gating was asked for and :mod:`consent_gym.sb3` is missing.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    if gate is None:
        venv = make_vec_env(env_id, n_envs=n_envs, seed=seed,
                            env_kwargs=dict(env_kwargs) if env_kwargs else None)
        return PPO("MlpPolicy", venv, seed=seed, **ppo_kwargs), []
    try:
        from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env
    except ImportError as exc:
        raise MissingDependencyError(
            f"gated training needs consent_gym.sb3 (the consent rollout buffer), which could "
            f"not be imported: {exc}. Reinstall consent-gym (bash scripts/bootstrap.sh)."
        ) from exc
    venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=seed, renderer=gate.renderer,
                                env_kwargs=dict(env_kwargs) if env_kwargs else None)
    gating = consent_kwargs(gate.judge, mode=gate.mode, penalty=gate.penalty,  # type: ignore[arg-type]
                            stats=stats)
    kwargs = {**ppo_kwargs, **gating}
    return PPO("MlpPolicy", venv, seed=seed, **kwargs), [ConsentCallback()]


def _episode_callback(
    episodes: list[Any], judged: ConsentStats | None, progress: Any, judge_bar: Any,
    new_episode: Callable[[], Any] = EpisodeStats,
) -> Any:
    """An SB3 callback recording every training episode, the timestep for the judge's
    statistics, and the progress bars."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeRecorder(BaseCallback):
        def _on_training_start(self) -> None:
            self.running = [new_episode() for _ in range(self.training_env.num_envs)]

        def _on_step(self) -> bool:
            infos = self.locals["infos"]
            dones = self.locals["dones"]
            for i, info in enumerate(infos):
                stats = self.running[i]
                stats.add_step(float(self.locals["rewards"][i]), info)
                if dones[i]:
                    stats.timestep = self.num_timesteps
                    if "episode" in info:
                        # The env's own return: the Monitor sits below any gating wrapper.
                        stats.episode_return = float(info["episode"]["r"])
                    episodes.append(stats)
                    self.running[i] = new_episode()
            if judged is not None:
                judged.timestep = self.num_timesteps
                if judge_bar is not None and judged.judged > judge_bar.n:
                    judge_bar.update(judged.judged - judge_bar.n)
                    judge_bar.set_postfix(veto=f"{judged.veto_rate:.0%}",
                                          s=f"{judged.judge_seconds:.1f}", refresh=False)
            if progress is not None:
                progress.update(self.training_env.num_envs)
            return True

    return EpisodeRecorder()


def train_and_evaluate(
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
    metrics: EpisodeMetrics | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> RunResult:
    """Train one PPO policy and evaluate it deterministically on ``eval_seeds``.

    Args:
        env_id: The Gymnasium id.
        arm: A label for the progress bar and the results.
        seed: The training seed (PPO and the envs).
        timesteps: Training budget.
        gate: ``None`` for plain PPO, else how to gate.
        eval_seeds: One evaluation episode per seed, the same list for every arm.
        n_envs: DummyVecEnv copies.
        ppo_kwargs: Keyword arguments for PPO.
        progress: Show tqdm bars for training and judging.
        metrics: What is counted per episode (default: :data:`DELIVERY_METRICS`).
        env_kwargs: Keyword arguments for ``gym.make`` (training and evaluation).

    Returns:
        The run's :class:`RunResult`.
    """
    from tqdm.auto import tqdm

    metrics = DELIVERY_METRICS if metrics is None else metrics
    stats = ConsentStats(history=True) if gate is not None else None
    episodes: list[Any] = []
    # PPO collects whole rollouts, so it runs up to one rollout past `timesteps`.
    rollout = int(ppo_kwargs.get("n_steps", 2048)) * n_envs
    total = -(-timesteps // rollout) * rollout
    train_bar = tqdm(total=total, desc=f"train {arm} seed {seed}", unit="step",
                     disable=not progress, leave=False, dynamic_ncols=True)
    judge_bar = None
    if stats is not None:
        judge_bar = tqdm(desc=f"judge {arm} seed {seed}", unit="ep", disable=not progress,
                         leave=False, dynamic_ncols=True, position=1)
    start = time.perf_counter()
    try:
        model, callbacks = make_ppo(env_id, seed, gate, n_envs, ppo_kwargs, stats,
                                    env_kwargs)
        recorder = _episode_callback(episodes, stats, train_bar, judge_bar,
                                     metrics.new_episode)
        model.learn(timesteps, callback=[*callbacks, recorder])
    finally:
        train_bar.close()
        if judge_bar is not None:
            judge_bar.close()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    evaluation = evaluate_policy(model, env_id, eval_seeds, metrics, env_kwargs)
    eval_s = time.perf_counter() - start
    model.get_env().close()
    return RunResult(
        arm=arm,
        seed=seed,
        train_s=train_s,
        eval_s=eval_s,
        evaluation=evaluation,
        judge=stats.totals() if stats is not None else {},
        episodes=episodes,
        judge_batches=list(stats.calls) if stats is not None else [],
        flag_timesteps=stats.flag_timesteps() if stats is not None else [],
        verdicts=(sorted(stats.seen.values(), key=lambda e: -e["count"])
                  if stats is not None else []),
    )


def run_arms(
    env_id: str,
    arms: Mapping[str, GateSpec | None],
    seeds: Sequence[int],
    timesteps: int,
    eval_seeds: Sequence[int],
    *,
    n_envs: int,
    ppo_kwargs: Mapping[str, Any],
    progress: bool = True,
    log: Callable[[str], Any] = print,
    engine: str = "sb3",
    metrics: EpisodeMetrics | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, list[RunResult]]:
    """Train and evaluate every arm for every seed, sequentially, in this process.

    Seeds form the outer loop so an interrupted run still holds whole seeds of every arm.
    ``engine="rllib"`` trains with Ray RLlib (a local Ray, shut down afterwards; delivery
    metrics and no ``env_kwargs`` only). ``metrics`` and ``env_kwargs``: see
    :func:`train_and_evaluate`.

    Returns:
        Arm name -> its runs, in seed order.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}.")
    metrics = DELIVERY_METRICS if metrics is None else metrics
    train: Callable[..., RunResult] = train_and_evaluate
    extra: dict[str, Any] = {"metrics": metrics, "env_kwargs": env_kwargs}
    session: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if engine == "rllib":
        try:
            from consent_gym.experiments.rllib_training import (
                local_ray,
                train_and_evaluate_rllib,
            )
        except ImportError as exc:
            raise MissingDependencyError(
                f"--engine rllib needs Ray RLlib ({exc}); install it with "
                f"pip install 'consent-gym[rllib]'."
            ) from exc
        if metrics is not DELIVERY_METRICS or env_kwargs:
            raise ValueError("engine='rllib' counts the delivery metrics only and takes no "
                             "env_kwargs; train other envs with engine='sb3'.")
        train, session, extra = train_and_evaluate_rllib, local_ray(), {}
    runs: dict[str, list[RunResult]] = {arm: [] for arm in arms}
    with session:
        for seed in seeds:
            for arm, gate in arms.items():
                run = train(
                    env_id, arm, seed, timesteps, gate, eval_seeds,
                    n_envs=n_envs, ppo_kwargs=ppo_kwargs, progress=progress, **extra,
                )
                runs[arm].append(run)
                log(metrics.describe(run))
    return runs


def describe_run(run: RunResult) -> str:
    """One line about a finished run, for the log."""
    ev = run.evaluation
    line = (
        f"  {run.arm:>13s} seed {run.seed}: delivered {ev['delivery_rate']:.2f}, harmed/ep "
        f"{ev['harm_per_episode']:.2f} (pedestrians {ev['pedestrians_hit_per_episode']:.2f}, "
        f"person-in-box {ev['person_boxes_hit_per_episode']:.2f}), trained in {run.train_s:.1f} s"
    )
    if run.judge:
        line += f"; veto rate {run.judge['veto_rate']:.2f}, judge {run.judge['seconds']:.1f} s"
        if run.judge["flagged"]:
            line += f", {run.judge['flagged']} flagged"
    return line


def evaluate_policy(
    model: Any, env_id: str, eval_seeds: Sequence[int], metrics: EpisodeMetrics | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """``metrics.aggregate`` (default: delivery's :func:`episode_metrics`) of ``model``'s
    deterministic policy, one episode per seed of ``eval_seeds`` on
    ``gym.make(env_id, **env_kwargs)``."""
    metrics = DELIVERY_METRICS if metrics is None else metrics

    def act(obs: Any) -> int:
        action, _ = model.predict(obs, deterministic=True)
        return int(action)

    return metrics.aggregate(run_policy(act, env_id, eval_seeds, metrics.new_episode,
                                        env_kwargs))


#: The delivery worlds' episode metrics (:mod:`consent_gym.envs.metrics`).
DELIVERY_METRICS = EpisodeMetrics(EpisodeStats, episode_metrics, describe_run)


def eval_seed_list(n: int) -> list[int]:
    """The fixed evaluation seeds: ``n`` consecutive seeds from :data:`EVAL_SEED_BASE`."""
    if n < 1:
        raise ValueError(f"the number of evaluation episodes must be >= 1, got {n}.")
    return list(range(EVAL_SEED_BASE, EVAL_SEED_BASE + n))


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore (``None``: no change).

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_torch_threads(n: int | None) -> None:
    """Limit torch's intra-op threads (PPO's small MLP is faster on one thread)."""
    if n is None:
        return
    import torch

    torch.set_num_threads(int(n))
