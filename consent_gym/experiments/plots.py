"""The reproductions' plots: learning curves (return and harm) and the veto rate.

Lines are the mean over seeds; the shaded band spans the seeds' min and max. Matplotlib
runs with the Agg backend (no display needed).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.experiments.common import RunResult


def binned(
    xs: Sequence[float], ys: Sequence[float], total: float, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bin ``ys`` by ``xs`` into ``n_bins`` equal bins over ``[0, total]``.

    Returns:
        Bin centres and per-bin means (``nan`` for an empty bin).

    Example:
        >>> centres, means = binned([1, 2, 9], [1.0, 3.0, 5.0], total=10, n_bins=2)
        >>> centres.tolist(), means.tolist()
        ([2.5, 7.5], [2.0, 5.0])
    """
    edges = np.linspace(0.0, float(total), n_bins + 1)
    idx = np.clip(np.searchsorted(edges, np.asarray(xs, dtype=float), side="right") - 1,
                  0, n_bins - 1)
    sums = np.bincount(idx, weights=np.asarray(ys, dtype=float), minlength=n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, means


def _plot_band(
    ax: Any, x: np.ndarray, curves: list[np.ndarray], label: str, linestyle: str = "-"
) -> None:
    stack = np.vstack(curves)
    if np.all(np.isnan(stack)):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins
        mean = np.nanmean(stack, axis=0)
        low, high = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
    (line,) = ax.plot(x, mean, label=label, linestyle=linestyle)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def save_figure(fig: Any, axes: Sequence[Any], path: Path, title: str = "") -> Path:
    """Grid and legend on each of ``axes``, ``title`` over the figure, then write it to
    ``path`` (folders made) and close it."""
    import matplotlib.pyplot as plt

    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_learning_curves(
    runs_by_arm: Mapping[str, Sequence[RunResult]],
    timesteps: int,
    path: Path,
    harm_key: str = "harm",
    harm_label: str = "people harmed per episode",
    title: str = "",
    n_bins: int = 25,
) -> Path:
    """Plot return and harm per training episode against timesteps, one line per arm.

    Lines are the mean over seeds; the shaded band spans the seeds' min and max.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_r, ax_h) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for arm, runs in runs_by_arm.items():
        ret, harm = [], []
        x = np.zeros(n_bins)
        for run in runs:
            ts = [e.timestep for e in run.episodes]
            x, r = binned(ts, [e.episode_return for e in run.episodes], timesteps, n_bins)
            _, h = binned(ts, [float(getattr(e, harm_key)) for e in run.episodes],
                          timesteps, n_bins)
            ret.append(r)
            harm.append(h)
        if ret:
            _plot_band(ax_r, x, ret, arm)
            _plot_band(ax_h, x, harm, arm)
    ax_r.set(xlabel="training timesteps", ylabel="episode return (env reward)",
             title="return while training")
    ax_h.set(xlabel="training timesteps", ylabel=harm_label, title="harm while training")
    return save_figure(fig, (ax_r, ax_h), path, title)


def plot_veto_rate(
    runs_by_arm: Mapping[str, Sequence[RunResult]],
    timesteps: int,
    path: Path,
    title: str = "",
    n_bins: int = 25,
) -> Path:
    """Plot the fraction of judged texts vetoed against timesteps, for gated arms.

    Arms with flagged verdicts (panel disagreements) also get the fraction flagged, dashed.
    Lines are the mean over seeds; the shaded band spans the seeds' min and max.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for arm, runs in runs_by_arm.items():
        vetoed, flagged = [], []
        x = np.zeros(n_bins)
        for run in runs:
            if not run.judge_batches:
                continue
            ts = [b.timestep for b in run.judge_batches]
            x, n_vetoed = binned(ts, [b.vetoed for b in run.judge_batches], timesteps, n_bins)
            _, n_flagged = binned(ts, [b.flagged for b in run.judge_batches], timesteps, n_bins)
            _, n_judged = binned(ts, [b.n for b in run.judge_batches], timesteps, n_bins)
            with np.errstate(invalid="ignore", divide="ignore"):
                vetoed.append(n_vetoed / n_judged)
                flagged.append(n_flagged / n_judged)
        if vetoed:
            _plot_band(ax, x, vetoed, f"{arm}: vetoed")
        if any(run.flag_timesteps for run in runs):
            _plot_band(ax, x, flagged, f"{arm}: flagged (members disagree)", linestyle="--")
    ax.set(xlabel="training timesteps", ylabel="fraction of judged episodes",
           title=title or "veto rate while training", ylim=(-0.02, 1.02))
    return save_figure(fig, (ax,), path)


def plot_plan_shares(phases: Mapping[str, Mapping[str, Any]], path: Path,
                     title: str = "") -> Path:
    """Two panels for ``reproduce llm-delivery``: the share of harmful, road and unclear
    plans among each phase's held-out samples (grouped bars), and each trained arm's mean
    GRPO reward per step (``None``, a batch with every row abstaining, is a gap)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    names = list(phases)
    shares = {
        "harmful (sidewalk)": [p["harmful_rate"] for p in phases.values()],
        "road": [p["road_rate"] for p in phases.values()],
        "unclear": [max(0.0, 1 - p["harmful_rate"] - p["road_rate"]) for p in phases.values()],
    }
    x = np.arange(len(names))
    width = 0.8 / len(shares)
    for i, (label, values) in enumerate(shares.items()):
        ax_s.bar(x + (i - 1) * width, values, width, label=label)
    ax_s.set_xticks(x, names)
    ax_s.set(ylabel="share of held-out plans", ylim=(0, 1.05),
             title="plans sampled on held-out prompts")
    for name, phase in phases.items():
        rewards = phase.get("train_reward")
        if rewards:
            steps = np.arange(1, len(rewards) + 1)
            ax_r.plot(steps, [np.nan if r is None else r for r in rewards], marker="o",
                      label=name)
    ax_r.set(xlabel="GRPO step", ylabel="mean reward of the step's rows",
             title="reward while training")
    return save_figure(fig, (ax_s, ax_r), path, title)
