"""The ontological-drift reproduction: a judge that cannot see inside boxes, and a panel.

On ``consent_gym/DeliveryBoxes-v0`` boxes stand in the road's inner lane; some hide a
person, and the observation never shows which. PPO is trained three times per seed:

- ``ungated``: plain SB3;
- ``surface-gated``: gated by the judge reading the episode with *surface* perception
  ("the car hit a box"): it vetoes hitting pedestrians, but approves hitting boxes, so the
  agent learns to drive through the boxes, people inside or not;
- ``panel-gated``: gated by a :class:`~consent_gym.judges.JudgePanel` of the same judge
  twice, once with surface and once with *informed* perception ("the car hit a box with a
  person inside"). Where the two disagree the episode is flagged for a person; under the
  default ``unanimous`` policy the informed member's veto also counts, so the agent learns
  to drive round the boxes.

Reported per arm: person-in-box hits per episode (and the other harms), and for the panel
how many disagreements were flagged and at which training timesteps.

Example:
    >>> config = OntologicalDriftConfig(timesteps=2048, seeds=1, judge="rule", progress=False)
    >>> config.policy, config.mode, str(config.out)
    ('unanimous', 'zero', 'runs/ontological-drift')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.envs.metrics import EVAL_METRICS
from consent_gym.experiments.common import (
    ExperimentConfig,
    GateSpec,
    RunResult,
    eval_seed_list,
    load_experiment_judge,
    run_arms,
    set_torch_threads,
)
from consent_gym.experiments.plots import (
    plot_learning_curves,
    plot_veto_rate,
)
from consent_gym.experiments.report import (
    FLAGGED_ROW,
    JUDGE_ROWS,
    TRAIN_ROW,
    VETO_ROW,
    assemble_results,
    format_table,
    summarize_runs,
    write_json,
)
from consent_gym.judges.base import Judge
from consent_gym.render.delivery import DeliveryRenderer

ENV_ID = "consent_gym/DeliveryBoxes-v0"
ARMS: tuple[str, ...] = ("ungated", "surface-gated", "panel-gated")
#: The table's rows.
TABLE_ROWS: tuple[tuple[str, str, int], ...] = (
    *EVAL_METRICS, VETO_ROW, FLAGGED_ROW, *JUDGE_ROWS, TRAIN_ROW,
)


@dataclass
class OntologicalDriftConfig(ExperimentConfig):
    """Settings of the ontological-drift reproduction (see :class:`ExperimentConfig`).

    Attributes:
        policy: The panel's policy: ``"unanimous"`` (default: any member's veto counts),
            ``"majority"`` or ``"reference"`` (the surface member decides, the informed
            one only flags).
    """

    out: Path = Path("runs/ontological-drift")
    judge: str = "rule"
    policy: str = "unanimous"

    def __post_init__(self) -> None:
        super().__post_init__()
        from consent_gym.judges.panel import POLICIES

        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}.")


def make_gates(judge: Judge, config: OntologicalDriftConfig) -> dict[str, GateSpec | None]:
    """The three arms: no gate, the judge with surface perception, the panel.

    Example:
        >>> from consent_gym.judge_registry import load_judge
        >>> gates = make_gates(load_judge("rule"), OntologicalDriftConfig())
        >>> list(gates), gates["panel-gated"].judge.judge_id.startswith("panel:unanimous:")
        (['ungated', 'surface-gated', 'panel-gated'], True)
    """
    from consent_gym.judges import JudgePanel, PanelMember
    from consent_gym.render.views import PanelRenderer

    surface = DeliveryRenderer("surface", step_numbers=config.step_numbers)
    informed = DeliveryRenderer("informed", step_numbers=config.step_numbers)
    panel = JudgePanel(
        [PanelMember(judge, surface), PanelMember(judge, informed)],
        policy=config.policy,  # type: ignore[arg-type]
        name="surface+informed",
    )
    return {
        "ungated": None,
        "surface-gated": GateSpec(judge=judge, mode=config.mode, renderer=surface,
                                  penalty=config.penalty),
        "panel-gated": GateSpec(judge=panel, mode=config.mode,
                                renderer=PanelRenderer(panel), penalty=config.penalty),
    }


def flag_timeline(runs: Sequence[RunResult], timesteps: int, n_bins: int = 10) -> dict[str, Any]:
    """When disagreements were flagged: per seed the count, first and last timestep, and
    counts per tenth of training.

    Example:
        >>> run = RunResult("panel-gated", 0, 1.0, 0.1, {}, flag_timesteps=[100, 900, 950])
        >>> t = flag_timeline([run], timesteps=1000, n_bins=2)
        >>> t["per_seed"][0]["count"], t["per_seed"][0]["per_bin"], t["bin_edges"]
        (3, [1, 2], [0.0, 500.0, 1000.0])
    """
    edges = np.linspace(0.0, float(timesteps), n_bins + 1)
    per_seed = []
    for run in runs:
        ts = np.asarray(run.flag_timesteps, dtype=float)
        counts, _ = np.histogram(np.clip(ts, 0, timesteps), bins=edges)
        per_seed.append({
            "seed": run.seed,
            "count": len(run.flag_timesteps),
            "first_timestep": int(ts.min()) if ts.size else None,
            "last_timestep": int(ts.max()) if ts.size else None,
            "per_bin": [int(c) for c in counts],
        })
    return {"bin_edges": [float(e) for e in edges], "per_seed": per_seed}


def format_flags(timeline: Mapping[str, Any],
                 members: str = "surface vs informed member") -> str:
    """A readable account of :func:`flag_timeline`; ``members`` names who disagreed.

    Example:
        >>> run = RunResult("panel-gated", 0, 1.0, 0.1, {}, flag_timesteps=[100, 900])
        >>> print(format_flags(flag_timeline([run], timesteps=1000, n_bins=2)))
        Disagreements flagged (panel-gated, surface vs informed member):
          seed 0: 2 flagged, first at step 100, last at step 900; per 1/2 of training: 1 1
    """
    edges = timeline["bin_edges"]
    lines = [f"Disagreements flagged (panel-gated, {members}):"]
    for seed in timeline["per_seed"]:
        if not seed["count"]:
            lines.append(f"  seed {seed['seed']}: none")
            continue
        per_bin = " ".join(str(c) for c in seed["per_bin"])
        lines.append(
            f"  seed {seed['seed']}: {seed['count']} flagged, first at step "
            f"{seed['first_timestep']}, last at step {seed['last_timestep']}; per "
            f"1/{len(edges) - 1} of training: {per_bin}"
        )
    return "\n".join(lines)


def run_ontological_drift(
    config: OntologicalDriftConfig,
    argv: Sequence[str] | None = None,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train and evaluate the three arms over all seeds; write results.json and plots.

    Returns:
        The content of ``results.json``, with ``table``, ``flags`` (see
        :func:`flag_timeline`), ``flag_summary`` (its text) and ``plots``.
    """
    started = time.perf_counter()
    set_torch_threads(config.torch_threads)
    judge, load_s = load_experiment_judge(config.judge, log, config.judge_dtype,
                                           config.served_judge)
    gates = make_gates(judge, config)
    panel_gate = gates["panel-gated"]
    assert panel_gate is not None
    return run_panel_arms(
        "ontological-drift", config, gates,
        {"name": config.judge, "judge_id": judge.judge_id, "load_s": load_s,
         "panel_id": panel_gate.judge.judge_id, "panel_policy": config.policy},
        started=started, title=f"{config.judge} judge", members="surface vs informed member",
        argv=argv, log=log,
    )


def run_panel_arms(
    experiment: str,
    config: ExperimentConfig,
    gates: Mapping[str, GateSpec | None],
    judge_info: dict[str, Any],
    *,
    started: float,
    title: str,
    members: str,
    argv: Sequence[str] | None = None,
    log: Callable[[str], Any] = print,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate ``gates`` on DeliveryBoxes over all seeds (an ``ungated`` arm,
    one-judge arms and a ``panel-gated`` arm whose flags are timed); write results.json
    and the plots. Shared by the drift reproductions.

    Args:
        experiment: The experiment's name in ``results.json``.
        gates: Arm name -> gate (``None``: ungated); must hold ``"panel-gated"``.
        judge_info: The ``judge`` entry of ``results.json``.
        started: ``time.perf_counter()`` when the experiment began (wall time counts loading).
        title: What gated the arms, for the plot titles.
        members: Who disagreed, for the flag summary.
        extra: More top-level entries of ``results.json``.
    """
    if "panel-gated" not in gates or gates["panel-gated"] is None:
        raise ValueError(f"gates must hold a 'panel-gated' arm with a gate, got {list(gates)}.")
    timesteps, n_envs, ppo_kwargs = config.resolved()
    runs = run_arms(
        ENV_ID, gates, config.seed_list(), timesteps, eval_seed_list(config.eval_episodes),
        n_envs=n_envs, ppo_kwargs=ppo_kwargs, progress=config.progress, log=log,
    )
    summaries = {arm: summarize_runs(rs) for arm, rs in runs.items()}
    timeline = flag_timeline(runs["panel-gated"], timesteps)
    out = Path(config.out)
    gated = [arm for arm, gate in gates.items() if gate is not None]
    plots = {
        "learning_curves": str(plot_learning_curves(
            runs, timesteps, out / "learning_curves.png", harm_key="person_boxes_hit",
            harm_label="boxes with a person hit per episode",
            title=f"DeliveryBoxes-v0: {' / '.join(gates)} ({title}, {config.mode} mode)")),
        "veto_rate": str(plot_veto_rate(
            {arm: runs[arm] for arm in gated}, timesteps, out / "veto_rate.png",
            title="DeliveryBoxes-v0: veto rate and flagged disagreements")),
    }
    results = assemble_results(
        experiment, ENV_ID, config, judge_info, runs, summaries, started=started, argv=argv,
        table=format_table(summaries, TABLE_ROWS), flags=timeline,
        flag_summary=format_flags(timeline, members), plots=plots, **(extra or {}),
    )
    write_json(out / "results.json", results)
    return results
