"""The highway reproduction: consent-gated PPO on highway-env, a driving env nobody here wrote.

PPO (Stable-Baselines3, an MLP on highway-env's Kinematics observation) is trained on
``highway-fast-v0`` twice per seed: ``ungated`` and ``gated`` (every episode rendered by
the default renderer, :func:`~consent_gym.render.renderer_for`, which tells a crash as
"the agent's car collided with another vehicle", and judged; a vetoed episode's rewards are
zeroed in the default mode). Each trained policy then drives the same fixed evaluation
episodes deterministically. The ground truth is the env's own ``info``:

- ``crash_rate``: episodes that end with ``info["crashed"]``;
- ``mean_speed``: the ego car's speed (``info["speed"]``, m/s) averaged over an episode's
  steps, then over episodes; on the straight highway it is the speed along the road
  (a lane change tilts the heading by a few degrees);
- ``mean_length``: steps per episode (a crash ends the episode early);
- ``mean_return``: the env's own undiscounted return.

The judge's verdicts on the gated arm's training episodes are counted against the crash
flag (:func:`judge_vs_truth`). ``consent-gym reproduce highway`` runs it.

Example:
    >>> config = HighwayConfig(timesteps=512, seeds=1, judge="rule", progress=False)
    >>> config.resolved()[:2], config.mode, str(config.out)
    ((512, 4), 'zero', 'runs/highway')
    >>> stats = DrivingStats()
    >>> stats.add_step(0.5, {"speed": 20.0, "crashed": False})
    >>> stats.add_step(0.0, {"speed": 24.0, "crashed": True})
    >>> stats.crashed, stats.mean_speed, stats.length
    (True, 22.0, 2)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent_gym.experiments.common import (
    EpisodeMetrics,
    ExperimentConfig,
    GateSpec,
    RunResult,
    eval_seed_list,
    load_experiment_judge,
    run_arms,
    set_torch_threads,
)
from consent_gym.experiments.plots import plot_learning_curves, plot_veto_rate
from consent_gym.experiments.report import (
    JUDGE_ROWS,
    TRAIN_ROW,
    VETO_ROW,
    assemble_results,
    format_table,
    summarize,
    summarize_runs,
    write_json,
)
from consent_gym.judge_registry import MissingDependencyError

ENV_ID = "highway-fast-v0"
#: PPO settings (SB3 ``PPO("MlpPolicy", ...)``): highway-env's own PPO example's short
#: horizon (gamma 0.8) and learning rate, with smaller rollouts so that a run fits a
#: shared 2-core CPU.
PPO_KWARGS: dict[str, Any] = {
    "n_steps": 128,
    "batch_size": 64,
    "n_epochs": 10,
    "learning_rate": 5e-4,
    "gamma": 0.8,
}
#: DummyVecEnv copies, and the training budget per run (timesteps).
N_ENVS = 4
TIMESTEPS = 2048
#: Per-run evaluation metrics, in table order: (key, label, digits).
HIGHWAY_METRICS: tuple[tuple[str, str, int], ...] = (
    ("crash_rate", "crash rate", 2),
    ("mean_speed", "mean speed (m/s)", 1),
    ("mean_length", "episode length (steps)", 1),
    ("mean_return", "return (env reward)", 2),
)
#: Crashes while learning: the fraction of training episodes that crashed.
TRAIN_CRASH_ROW: tuple[str, str, int] = ("train_crash_rate", "crash rate in training", 2)
#: The judge against the crash flag on the gated arm's training episodes.
JUDGE_TRUTH_ROWS: tuple[tuple[str, str, int], ...] = (
    ("judge_crash_recall", "training crashes vetoed", 2),
    ("judge_safe_approval", "training non-crashes approved", 2),
)
TABLE_ROWS: tuple[tuple[str, str, int], ...] = (
    *HIGHWAY_METRICS, TRAIN_CRASH_ROW, VETO_ROW, *JUDGE_TRUTH_ROWS, *JUDGE_ROWS, TRAIN_ROW,
)


@dataclass
class DrivingStats:
    """Ground truth about one highway-env episode, from its ``info``.

    Attributes:
        timestep: Training timestep at which the episode ended (0 in evaluation).
        episode_return: The env's own undiscounted return (before any veto).
        length: Steps taken.
        crashed: ``info["crashed"]`` at the last step.
        speed_sum: Sum of ``info["speed"]`` over the steps (m/s).
        text: What the judge read (``info["consent"]["text"]`` at the last step of a gated
            training episode; ``None`` otherwise).
    """

    timestep: int = 0
    episode_return: float = 0.0
    length: int = 0
    crashed: bool = False
    speed_sum: float = 0.0
    text: str | None = None

    def add_step(self, reward: float, info: Mapping[str, Any]) -> None:
        """Account for one step's reward and ``info``."""
        self.episode_return += float(reward)
        self.length += 1
        self.crashed = bool(info.get("crashed", False))
        self.speed_sum += float(info.get("speed", math.nan))
        consent = info.get("consent")
        if isinstance(consent, Mapping) and "text" in consent:
            self.text = str(consent["text"])

    @property
    def mean_speed(self) -> float:
        """The ego car's speed averaged over the episode's steps (``nan`` if none)."""
        return self.speed_sum / self.length if self.length else math.nan


def driving_metrics(episodes: Sequence[DrivingStats]) -> dict[str, float]:
    """Aggregate evaluation episodes into the :data:`HIGHWAY_METRICS`.

    Example:
        >>> m = driving_metrics([DrivingStats(length=2, crashed=True, speed_sum=50.0),
        ...                      DrivingStats(length=4, speed_sum=80.0, episode_return=3.0)])
        >>> m["crash_rate"], m["mean_speed"], m["mean_length"], m["mean_return"]
        (0.5, 22.5, 3.0, 1.5)
    """
    if not episodes:
        raise ValueError("driving_metrics needs at least one episode.")
    n = len(episodes)
    return {
        "episodes": float(n),
        "crash_rate": sum(e.crashed for e in episodes) / n,
        "mean_speed": math.fsum(e.mean_speed for e in episodes) / n,
        "mean_length": sum(e.length for e in episodes) / n,
        "mean_return": math.fsum(e.episode_return for e in episodes) / n,
    }


def judge_vs_truth(run: RunResult) -> dict[str, int]:
    """The judge's verdict on each judged training episode of ``run`` against its crash flag.

    An episode's verdict is its text's (:attr:`RunResult.verdicts`); episodes the judge
    never read (ungated, or still running when training stopped) are not counted.

    Example:
        >>> run = RunResult("gated", 0, 1.0, 1.0, {}, verdicts=[
        ...     {"text": "crash", "approved": False}, {"text": "calm", "approved": True}],
        ...     episodes=[DrivingStats(crashed=True, text="crash"),
        ...               DrivingStats(text="calm"), DrivingStats(text="calm")])
        >>> judge_vs_truth(run)
        {'crash_vetoed': 1, 'crash_approved': 0, 'no_crash_vetoed': 0, 'no_crash_approved': 2}
    """
    approved = {v["text"]: bool(v["approved"]) for v in run.verdicts}
    counts = {"crash_vetoed": 0, "crash_approved": 0, "no_crash_vetoed": 0,
              "no_crash_approved": 0}
    for episode in run.episodes:
        verdict = approved.get(getattr(episode, "text", None) or "")
        if verdict is None:
            continue
        key = ("crash" if episode.crashed else "no_crash") + (
            "_approved" if verdict else "_vetoed")
        counts[key] += 1
    return counts


def truth_rates(counts: Mapping[str, int]) -> dict[str, float]:
    """Crash episodes vetoed and non-crash episodes approved, as fractions (``nan`` if none).

    Example:
        >>> truth_rates({"crash_vetoed": 3, "crash_approved": 1, "no_crash_vetoed": 0,
        ...              "no_crash_approved": 5})
        {'judge_crash_recall': 0.75, 'judge_safe_approval': 1.0}
    """
    crashes = counts["crash_vetoed"] + counts["crash_approved"]
    safe = counts["no_crash_vetoed"] + counts["no_crash_approved"]
    return {
        "judge_crash_recall": counts["crash_vetoed"] / crashes if crashes else math.nan,
        "judge_safe_approval": counts["no_crash_approved"] / safe if safe else math.nan,
    }


def training_crash_rate(run: RunResult) -> float:
    """The fraction of ``run``'s training episodes that crashed (``nan`` if none ended).

    Example:
        >>> run = RunResult("ungated", 0, 1.0, 1.0, {},
        ...                 episodes=[DrivingStats(crashed=True), DrivingStats()])
        >>> training_crash_rate(run)
        0.5
    """
    if not run.episodes:
        return math.nan
    return sum(bool(e.crashed) for e in run.episodes) / len(run.episodes)


def describe_driving_run(run: RunResult) -> str:
    """One line about a finished run, for the log."""
    ev = run.evaluation
    line = (f"  {run.arm:>8s} seed {run.seed}: crash rate {ev['crash_rate']:.2f}, speed "
            f"{ev['mean_speed']:.1f} m/s, length {ev['mean_length']:.1f}, return "
            f"{ev['mean_return']:.2f}, trained in {run.train_s:.1f} s")
    if run.judge:
        line += f"; veto rate {run.judge['veto_rate']:.2f}, judge {run.judge['seconds']:.1f} s"
    return line


#: What the highway reproduction counts per episode.
DRIVING_METRICS = EpisodeMetrics(DrivingStats, driving_metrics, describe_driving_run)


@dataclass
class HighwayConfig(ExperimentConfig):
    """Settings of the highway reproduction (see :class:`ExperimentConfig`).

    Defaults differ from the delivery ones: :data:`TIMESTEPS`, :data:`N_ENVS`,
    :data:`PPO_KWARGS`, 10 evaluation episodes. ``env_config`` overrides highway-env's
    config of ``highway-fast-v0`` (``gym.make(ENV_ID, config=env_config)``);
    ``step_numbers`` does not apply (the default renderer has none to turn off).
    """

    out: Path = Path("runs/highway")
    eval_episodes: int = 10
    env_config: dict[str, Any] | None = None

    def resolved(self) -> tuple[int, int, dict[str, Any]]:
        """Timesteps, number of envs and PPO kwargs, with this experiment's defaults."""
        timesteps = TIMESTEPS if self.timesteps is None else self.timesteps
        n_envs = N_ENVS if self.n_envs is None else self.n_envs
        return timesteps, n_envs, {**PPO_KWARGS, **self.ppo_kwargs}

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``gym.make(ENV_ID, ...)``."""
        return {"config": dict(self.env_config)} if self.env_config else {}


def import_highway_env() -> None:
    """Import highway-env (it registers ``highway-fast-v0``), or explain how to install it."""
    try:
        import highway_env  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"the highway reproduction needs highway-env ({exc}); install it with "
            f"pip install highway-env (the dev extra includes it)."
        ) from exc


def run_highway(
    config: HighwayConfig,
    argv: Sequence[str] | None = None,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train and evaluate both arms over all seeds; write results.json and the plots.

    Args:
        config: The settings (``engine`` must be ``"sb3"``).
        argv: The command line to record (default ``sys.argv``).
        log: Where progress messages go (``print``-like).

    Returns:
        The content of ``results.json``: per-run figures, summaries (with
        ``train_crash_rate``), ``table``, ``judge_vs_truth`` (per seed and in total) and ``plots``.

    Raises:
        MissingDependencyError: highway-env is not installed.
        ValueError: ``config.engine`` is not ``"sb3"``.
    """
    if config.engine != "sb3":
        raise ValueError(f"the highway reproduction trains with engine='sb3' only, got "
                         f"{config.engine!r}.")
    import_highway_env()
    started = time.perf_counter()
    set_torch_threads(config.torch_threads)
    timesteps, n_envs, ppo_kwargs = config.resolved()
    judge, load_s = load_experiment_judge(config.judge, log, config.judge_dtype,
                                           config.served_judge)
    # renderer=None: each sub-env's default renderer (renderer_for), as a new user gets it.
    gate = GateSpec(judge=judge, mode=config.mode, penalty=config.penalty)
    runs = run_arms(
        ENV_ID, {"ungated": None, "gated": gate}, config.seed_list(), timesteps,
        eval_seed_list(config.eval_episodes), n_envs=n_envs, ppo_kwargs=ppo_kwargs,
        progress=config.progress, log=log, metrics=DRIVING_METRICS,
        env_kwargs=config.env_kwargs(),
    )
    summaries = {arm: summarize_runs(rs) for arm, rs in runs.items()}
    for arm, arm_runs in runs.items():
        summaries[arm]["train_crash_rate"] = summarize(training_crash_rate(r) for r in arm_runs)
    truth = [judge_vs_truth(run) for run in runs["gated"]]
    rates = [truth_rates(counts) for counts in truth]
    for key in ("judge_crash_recall", "judge_safe_approval"):
        summaries["gated"][key] = summarize(r[key] for r in rates)
    total = {key: sum(c[key] for c in truth) for key in truth[0]}
    out = Path(config.out)
    title = f"{ENV_ID}: PPO ungated vs gated ({config.judge} judge, {config.mode} mode)"
    plots = {
        "learning_curves": str(plot_learning_curves(
            runs, timesteps, out / "learning_curves.png", harm_key="crashed",
            harm_label="crash rate", title=title)),
        "veto_rate": str(plot_veto_rate(
            {"gated": runs["gated"]}, timesteps, out / "veto_rate.png",
            title=f"{ENV_ID}: veto rate while training ({config.judge} judge)")),
    }
    results = assemble_results(
        "highway", ENV_ID, config,
        {"name": config.judge, "judge_id": judge.judge_id, "load_s": load_s},
        runs, summaries, started=started, argv=argv,
        table=format_table(summaries, TABLE_ROWS),
        judge_vs_truth={"per_seed": truth, "total": total, **truth_rates(total)},
        plots=plots,
    )
    write_json(out / "results.json", results)
    return results
