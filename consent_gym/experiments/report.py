"""Aggregating runs over seeds, the printed table, and ``results.json``.

Example:
    >>> summarize([1.0, 2.0, 3.0])["mean"]
    2.0
    >>> fmt_stat(summarize([0.5, 0.7]), digits=2)
    '0.60 ± 0.14'
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from consent_gym.envs.metrics import EVAL_METRICS
from consent_gym.experiments.common import (
    EVAL_SEED_BASE,
    ExperimentConfig,
    RunResult,
)


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Mean, sample standard deviation, min, max and count, ignoring NaNs.

    Example:
        >>> s = summarize([1.0, float("nan"), 3.0])
        >>> s["mean"], s["n"], round(s["std"], 3)
        (2.0, 2, 1.414)
    """
    arr = np.asarray([float(v) for v in values], dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "max": nan, "n": 0}
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else 0.0
    return {
        "mean": float(np.mean(arr)),
        "std": std,
        "min": float(np.min(arr)),
        "max": float(np.max(arr)),
        "n": int(arr.size),
    }


def fmt_stat(stat: Mapping[str, float], digits: int = 2) -> str:
    """``"mean ± std"`` (``"n/a"`` when there is no value).

    Example:
        >>> fmt_stat({"mean": 1.0, "std": 0.0, "n": 3}, digits=1)
        '1.0 ± 0.0'
        >>> fmt_stat(summarize([]))
        'n/a'
    """
    if not stat.get("n"):
        return "n/a"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


# -------------------------------------------------------------------- aggregation
def summarize_runs(runs: Sequence[RunResult]) -> dict[str, dict[str, float]]:
    """Per-metric :func:`summarize` over the runs (seeds) of one arm.

    Covers the evaluation metrics, ``train_s``, and for gated arms the judge figures
    (``veto_rate``, ``judge_texts``, ``judge_cache_hits``, ``judge_s``, ``flagged``).
    """
    out: dict[str, dict[str, float]] = {}
    keys = sorted({k for r in runs for k in r.evaluation})
    for key in keys:
        out[key] = summarize(r.evaluation.get(key, float("nan")) for r in runs)
    out["train_s"] = summarize(r.train_s for r in runs)
    judged = [r for r in runs if r.judge]
    if judged:
        for key, src in (
            ("veto_rate", "veto_rate"),
            ("judge_texts", "texts"),
            ("judge_distinct_texts", "distinct_texts"),
            ("judge_cache_hits", "cache_hits"),
            ("judge_s", "seconds"),
            ("flagged", "flagged"),
        ):
            values = [r.judge.get(src) for r in judged]
            out[key] = summarize(float("nan") if v is None else float(v) for v in values)
    return out


#: Table rows every gated experiment prints: (summary key, label, digits).
VETO_ROW: tuple[str, str, int] = ("veto_rate", "veto rate in training", 2)
FLAGGED_ROW: tuple[str, str, int] = ("flagged", "disagreements flagged", 0)
JUDGE_ROWS: tuple[tuple[str, str, int], ...] = (
    ("judge_texts", "judge calls (texts)", 0),
    ("judge_distinct_texts", "distinct texts", 0),
    ("judge_cache_hits", "judge cache hits", 0),
    ("judge_s", "judge time (s)", 1),
)
TRAIN_ROW: tuple[str, str, int] = ("train_s", "train time incl. judge (s)", 1)

#: Rows of the printed table: (summary key, label, digits); judge rows only when gated.
TABLE_ROWS: tuple[tuple[str, str, int], ...] = (
    *EVAL_METRICS, VETO_ROW, *JUDGE_ROWS, FLAGGED_ROW, TRAIN_ROW,
)


def format_table(
    summaries: Mapping[str, Mapping[str, Mapping[str, float]]],
    rows: Sequence[tuple[str, str, int]] = TABLE_ROWS,
) -> str:
    """A Markdown table: one row per metric, one column per arm, ``mean ± std``.

    Rows that no arm has a value for are left out; an arm without a value shows ``-``.

    Example:
        >>> s = {"ungated": {"delivery_rate": summarize([1.0, 1.0])},
        ...      "gated": {"delivery_rate": summarize([0.9, 1.0])}}
        >>> print(format_table(s, rows=[("delivery_rate", "delivery rate", 2)]))
        | metric | ungated | gated |
        |---|---|---|
        | delivery rate | 1.00 ± 0.00 | 0.95 ± 0.07 |
    """
    arms = list(summaries)
    lines = ["| metric | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for key, label, digits in rows:
        cells = []
        for arm in arms:
            stat = summaries[arm].get(key)
            cells.append("-" if stat is None else fmt_stat(stat, digits))
        if all(c in ("-", "n/a") for c in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- output
def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("consent-gym", "stable-baselines3", "ray", "gymnasium", "minigrid", "torch",
                 "numpy", "transformers", "sentence-transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine_info() -> dict[str, Any]:
    """The machine the results were measured on, and how busy it was (load averages over
    1, 5 and 15 minutes when the results were written: timings on a shared machine are
    only comparable at similar load)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 0
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available
        load = []
    return {"platform": platform.platform(), "cpu": cpu, "cores_available": cores,
            "load_average": load}


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``consent-gym ...``), shell-quoted."""
    args = list(sys.argv if argv is None else argv)
    if args and Path(args[0]).name in ("consent-gym", "cli.py", "__main__.py"):
        args[0] = "consent-gym"
    return shlex.join(args)


def run_record(run: RunResult) -> dict[str, Any]:
    """The JSON-ready figures of one run: no per-episode log, but every distinct text the
    judge read, with its verdict and how often it was judged."""
    return {
        "seed": run.seed,
        "train_s": run.train_s,
        "eval_s": run.eval_s,
        "evaluation": run.evaluation,
        "judge": run.judge,
        "training_episodes": len(run.episodes),
        "flag_timesteps": run.flag_timesteps,
        "verdicts": run.verdicts,
    }


def to_jsonable(value: Any) -> Any:
    """Replace NaN/inf by ``None`` and paths by strings, recursively, so the file is strict
    JSON."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write strict JSON (NaN as ``null``), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(data), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def assemble_results(
    experiment: str,
    env_id: str,
    config: ExperimentConfig,
    judge: dict[str, Any],
    runs: Mapping[str, Sequence[RunResult]],
    summaries: Mapping[str, Any],
    *,
    started: float,
    argv: Sequence[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The content of ``results.json``: provenance, settings, per-run figures, summaries.

    Args:
        experiment: The experiment's name.
        env_id: The Gymnasium id trained on.
        config: The settings (recorded with the resolved timesteps, envs and PPO kwargs).
        judge: ``name``, ``judge_id``, ``load_s`` and anything else about the judge.
        runs: Arm -> its runs.
        summaries: Arm -> :func:`summarize_runs`.
        started: ``time.perf_counter()`` at the start (for ``wall_s``).
        argv: The command line (default ``sys.argv``).
        extra: Further top-level entries (table, targets, plots, ...).
    """
    timesteps, n_envs, ppo_kwargs = config.resolved()
    record = asdict(config)
    record.update(out=str(config.out), timesteps=timesteps, n_envs=n_envs,
                  seeds=config.seed_list(), ppo_kwargs=ppo_kwargs,
                  eval_seeds={"first": EVAL_SEED_BASE, "count": config.eval_episodes})
    return {
        "experiment": experiment,
        "env_id": env_id,
        "created_utc": now_utc(),
        "command": command_line(argv),
        "config": record,
        "judge": judge,
        "versions": package_versions(),
        "machine": machine_info(),
        "arms": {
            arm: {"runs": [run_record(r) for r in rs], "summary": summaries[arm]}
            for arm, rs in runs.items()
        },
        **extra,
        "wall_s": time.perf_counter() - started,
    }


def now_utc() -> str:
    """The current time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
