"""``consent-gym reproduce``: re-run the project's experiments and print their tables.

Subcommands:

- ``delivery-curb``: PPO on ``consent_gym/DeliveryCurb-v0`` without and with consent
  gating (:mod:`consent_gym.experiments.delivery_curb`).
- ``ontological-drift``: PPO on ``consent_gym/DeliveryBoxes-v0`` ungated, gated by a judge
  that sees only the surface, and gated by a panel with an informed member
  (:mod:`consent_gym.experiments.ontological_drift`).

- ``train-on-prediction``: PPO on ``consent_gym/DeliveryBoxes-v0`` ungated, gated by the
  original judge, and gated by a panel of the original and its prediction-trained copy
  (:mod:`consent_gym.experiments.train_on_prediction`).
- ``highway``: PPO on highway-env's ``highway-fast-v0`` without and with consent gating by
  the default judge through the default renderer
  (:mod:`consent_gym.experiments.highway`).
- ``llm-delivery``: GRPO (TRL) on the embedded Gemma 3 270M with LoRA, ungated and gated
  by its own start checkpoint, on a text delivery task whose reward pays for speed
  (:mod:`consent_gym.experiments.llm_delivery`; writes results.json and plans.png).

Each writes ``DIR/results.json`` (the PPO ones PNG plots too) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consent_gym.commands.arguments import int_at_least
from consent_gym.experiments.common import ENGINES
from consent_gym.experiments.llm_delivery import ARMS as LLM_ARMS
from consent_gym.gate import MODES
from consent_gym.judge_registry import (
    DEFAULT_JUDGE,
    JUDGE_CHOICES,
    MissingDependencyError,
    add_served_arguments,
    served_options,
)
from consent_gym.judges.panel import POLICIES

_positive_int = int_at_least(1)


def _add_common(parser: argparse.ArgumentParser, *, out: str, judge: str, mode: str,
                seeds: int, eval_episodes: int = 100, step_numbers: bool | None = True,
                timesteps_default: str = "the env's recommended budget") -> None:
    # step_numbers: the --step-numbers default, or None for no such option.
    parser.add_argument("--out", type=Path, default=Path(out),
                        help=f"folder for results.json and the plots (default: {out})")
    parser.add_argument("--timesteps", type=_positive_int, default=None,
                        help=f"PPO training timesteps per run (default: {timesteps_default})")
    parser.add_argument("--seeds", type=_positive_int, default=seeds,
                        help=f"training seeds, run one after the other (default: {seeds})")
    parser.add_argument("--first-seed", type=int_at_least(0), default=0,
                        help="the first training seed: --first-seed 3 --seeds 3 runs seeds "
                             "3, 4, 5 (default: 0)")
    parser.add_argument("--judge", choices=JUDGE_CHOICES, default=judge,
                        help=f"probe: the embedded default judge (Gemma 3 270M hidden "
                             f"states, worst sentence decides); llm: the prompted LLM judge; "
                             f"cascade: the embedding judge may veto, the LLM decides the rest "
                             f"(docs/cascade.md); embedding: "
                             f"the embedded sentence-embedding judge; rule: ground-truth "
                             f"keywords; served: a judge on an inference server "
                             f"(docs/served-judge.md) (default: {judge})")
    add_served_arguments(parser)
    parser.add_argument("--mode", choices=MODES, default=mode,
                        help=f"what a veto does: block (no gradient), zero (no reward), "
                             f"penalty (a negative last reward, see --penalty) (default: {mode})")
    parser.add_argument("--penalty", type=float, default=-1.0,
                        help="last-step reward of a vetoed episode with --mode penalty "
                             "(default: -1.0, the scale of a delivery)")
    parser.add_argument("--eval-episodes", type=_positive_int, default=eval_episodes,
                        help=f"evaluation episodes per trained policy, on fixed seeds "
                             f"(default: {eval_episodes})")
    if step_numbers is not None:
        default = "--step-numbers" if step_numbers else "--no-step-numbers"
        parser.add_argument("--step-numbers", action=argparse.BooleanOptionalAction,
                            default=step_numbers,
                            help=f"show the judge the renderer's own text, with step numbers; "
                                 f"--no-step-numbers: step-free texts, far fewer distinct texts "
                                 f"and faster, but the LLM judge misjudges them "
                                 f"(default: {default})")
    parser.add_argument("--judge-dtype", choices=("auto", "bfloat16", "float32"),
                        default="auto",
                        help="weight dtype of the llm judge (default: auto, bfloat16 where "
                             "the CPU multiplies bf16 natively, as here: about 2x faster "
                             "with the same verdicts; else float32)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (for logs)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reproduce`` and its subcommands; sets ``func=run``."""
    parser = subparsers.add_parser(
        "reproduce",
        help="re-run an experiment and print its table",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    experiments = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    curb = experiments.add_parser(
        "delivery-curb",
        help="plain PPO runs pedestrians over; consent-gated PPO does not",
        description="Train PPO on consent_gym/DeliveryCurb-v0 without and with consent "
                    "gating, evaluate both on fixed seeds, print a table, write "
                    "results.json and plots.",
    )
    _add_common(curb, out="runs/delivery-curb", judge=DEFAULT_JUDGE, mode="zero", seeds=3)
    curb.add_argument("--engine", choices=ENGINES, default="sb3",
                      help="the RL library PPO comes from: sb3 (Stable-Baselines3, default) or "
                           "rllib (Ray RLlib, gated by consent_gym.rllib; docs/rllib.md)")
    drift = experiments.add_parser(
        "ontological-drift",
        help="a surface-perception judge lets the agent hit boxes with people inside; "
             "a panel with an informed member stops it",
        description="Train PPO on consent_gym/DeliveryBoxes-v0 ungated, gated by a judge "
                    "that sees only the surface, and gated by a judge panel with an "
                    "informed member; report person-in-box hits and flagged disagreements.",
    )
    _add_common(drift, out="runs/ontological-drift", judge="rule", mode="zero", seeds=3)
    drift.add_argument("--policy", choices=POLICIES,
                       default="unanimous",
                       help="panel policy (default: unanimous; 'reference' lets the surface "
                            "judge decide and the informed member only flag)")
    prediction = experiments.add_parser(
        "train-on-prediction",
        help="gated by the original judge alone, PPO learns to hit boxes with people "
             "inside; a panel with its prediction-trained copy stops it",
        description="Train PPO on consent_gym/DeliveryBoxes-v0 ungated, gated by the "
                    "original judge, and gated by a panel of the original and "
                    "PredictThenJudge on its prediction-trained copy (built first when "
                    "--predictor holds none: about 12 minutes); report person-in-box hits "
                    "and flagged disagreements (docs/panels.md).",
    )
    _add_common(prediction, out="runs/train-on-prediction", judge=DEFAULT_JUDGE, mode="zero",
                seeds=3, step_numbers=False, timesteps_default="100000")
    prediction.add_argument("--ent-coef", type=float, default=0.05,
                            help="PPO's entropy bonus, every arm (default: 0.05; the env's "
                                 "0.01 explores too little to find the one delivery the "
                                 "copy approves, the way round the boxes)")
    prediction.add_argument("--predictor", type=Path,
                            default=Path("runs/train-on-prediction/predictor"),
                            help="the prediction-trained copy (consent-gym predict-train "
                                 "--out DIR); a new or empty folder: build it there "
                                 "(default: runs/train-on-prediction/predictor)")
    prediction.add_argument("--corpus", type=Path, default=None,
                            help="the copy's corpus folder (consent-gym predict-corpus --out "
                                 "DIR): both members judge its held-out episodes first "
                                 "(default: PREDICTOR-corpus, where a built copy's corpus goes)")
    prediction.add_argument("--k", type=_positive_int, default=8,
                            help="continuations the copy writes per episode (default: 8)")
    prediction.add_argument("--veto-when", default="any",
                            help="'any' (one vetoed continuation vetoes the episode, default) "
                                 "or the share of the k that must be vetoed, e.g. 0.5")
    prediction.add_argument("--max-new-tokens", type=_positive_int, default=64,
                            help="tokens per continuation at most (default: 64)")
    prediction.add_argument("--policy", choices=POLICIES,
                            default="unanimous",
                            help="panel policy (default: unanimous; 'reference' lets the "
                                 "original decide and the copy only flag)")
    from consent_gym.experiments.highway import ENV_ID, TIMESTEPS

    highway = experiments.add_parser(
        "highway",
        help=f"PPO on highway-env's {ENV_ID}: gated by the default judge, it should crash "
             f"less than ungated PPO at a comparable speed",
        description=f"Train PPO on highway-env's {ENV_ID} without and with consent gating "
                    f"(each episode told in words by the default renderer and judged), "
                    f"evaluate both on fixed seeds (crash rate, speed, episode length, "
                    f"return), print a table, write results.json and plots.",
    )
    _add_common(highway, out="runs/highway", judge=DEFAULT_JUDGE, mode="zero", seeds=3,
                eval_episodes=10, step_numbers=None, timesteps_default=str(TIMESTEPS))
    llm = experiments.add_parser(
        "llm-delivery",
        help="GRPO on a language model: ungated, it learns plans that drive through "
             "pedestrians; gated by its own start checkpoint, it should not",
        description="GRPO (TRL) on the embedded Gemma 3 270M with LoRA adapters, ungated and "
                    "gated by the start checkpoint (calibrated against each task with an "
                    "empty answer), on a text delivery task whose reward pays for speed.",
    )
    llm.add_argument("--out", type=Path, default=Path("runs/llm-delivery"),
                     help="folder for results.json (default: runs/llm-delivery)")
    llm.add_argument("--steps", type=_positive_int, default=8,
                     help="GRPO steps per arm, one prompt each (default: 8)")
    llm.add_argument("--generations", type=int_at_least(2), default=4,
                     help="completions per prompt, the GRPO group (default: 4)")
    llm.add_argument("--completion-tokens", type=_positive_int, default=4,
                     help="tokens per completion (default: 4: the plan; the 270M base model's "
                          "longer continuations ramble, and their noise drowns the judge's "
                          "signal, see docs/llm-policies.md)")
    llm.add_argument("--eval-samples", type=_positive_int, default=16,
                     help="completions sampled per held-out prompt before and after "
                          "training (default: 16)")
    llm.add_argument("--arms", nargs="+", choices=list(LLM_ARMS),
                     default=["gated-zero", "ungated"],
                     help="arms to run, in order (default: gated-zero ungated). gated-zero: a "
                          "vetoed completion is paid 0 and stays in its group; gated: abstain "
                          "mode, vetoed completions masked out (with groups of 4 and most "
                          "completions vetoed it has nothing to learn from, see "
                          "docs/llm-policies.md)")
    llm.add_argument("--learning-rate", type=float, default=2e-3,
                     help="LoRA learning rate (default: 2e-3)")
    llm.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    llm.add_argument("--threads", type=_positive_int, default=2,
                     help="torch CPU threads (default: 2)")
    parser.set_defaults(func=run, _parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the chosen experiment; 0 when it ran, 2 on a usage error or a missing component."""
    experiment = getattr(args, "experiment", None)
    if experiment is None:
        args._parser.print_help()
        return 2
    try:
        if experiment == "delivery-curb":
            return _delivery_curb(args)
        if experiment == "llm-delivery":
            return _llm_delivery(args)
        if experiment == "highway":
            return _highway(args)
        if experiment == "train-on-prediction":
            return _train_on_prediction(args)
        return _ontological_drift(args)
    except MissingDependencyError as exc:
        print(f"consent-gym reproduce {experiment}: {exc}", file=sys.stderr)
        return 2


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "out": args.out, "timesteps": args.timesteps, "seeds": args.seeds,
        "first_seed": args.first_seed, "judge": args.judge,
        "mode": args.mode, "penalty": args.penalty, "eval_episodes": args.eval_episodes,
        "progress": not args.no_progress, "step_numbers": getattr(args, "step_numbers", True),
        "judge_dtype": args.judge_dtype, "served_judge": served_options(args),
    }


def _report(results: dict[str, Any]) -> None:
    print()
    print(results["table"])
    print()
    judge = results["judge"]
    print(f"Judge: {judge['judge_id']} (loaded in {judge['load_s']:.1f} s)")
    print(f"Wall time: {results['wall_s']:.1f} s")
    print(f"Wrote {Path(results['config']['out']) / 'results.json'}")
    for path in results["plots"].values():
        print(f"Wrote {path}")


def _delivery_curb(args: argparse.Namespace) -> int:
    from consent_gym.experiments.delivery_curb import (
        DeliveryCurbConfig,
        format_targets,
        run_delivery_curb,
    )

    config = DeliveryCurbConfig(**_common(args), engine=args.engine)
    timesteps = config.resolved()[0]
    print(f"consent-gym reproduce delivery-curb: {config.seeds} seeds x 2 arms (ungated, "
          f"gated), {timesteps} timesteps each, judge {config.judge}, mode {config.mode}, "
          f"engine {config.engine}")
    results = run_delivery_curb(config)
    _report(results)
    print("Targets (issue 6, mean over seeds):")
    print(format_targets(results["targets"]))
    return 0


def _highway(args: argparse.Namespace) -> int:
    from consent_gym.experiments.highway import ENV_ID, HighwayConfig, run_highway

    config = HighwayConfig(**_common(args))
    timesteps = config.resolved()[0]
    print(f"consent-gym reproduce highway: {config.seeds} seeds x 2 arms (ungated, gated) on "
          f"{ENV_ID}, {timesteps} timesteps each, judge {config.judge}, mode {config.mode}",
          flush=True)
    results = run_highway(config, log=lambda line: print(line, flush=True))
    _report(results)
    truth = results["judge_vs_truth"]
    print(f"Judge vs ground truth (gated arm's training episodes, all seeds): "
          f"{truth['total']}")
    return 0


def _ontological_drift(args: argparse.Namespace) -> int:
    from consent_gym.experiments.ontological_drift import (
        OntologicalDriftConfig,
        run_ontological_drift,
    )

    config = OntologicalDriftConfig(**_common(args), policy=args.policy)
    timesteps = config.resolved()[0]
    print(f"consent-gym reproduce ontological-drift: {config.seeds} seeds x 3 arms (ungated, "
          f"surface-gated, panel-gated), {timesteps} timesteps each, judge {config.judge}, "
          f"mode {config.mode}, panel policy {config.policy}")
    results = run_ontological_drift(config)
    _report(results)
    print(results["flag_summary"])
    return 0


def _train_on_prediction(args: argparse.Namespace) -> int:
    from consent_gym.experiments.train_on_prediction import (
        TrainOnPredictionConfig,
        run_train_on_prediction,
    )

    veto_when: str | float = args.veto_when
    if veto_when != "any":
        try:
            veto_when = float(veto_when)
        except ValueError:
            print(f"consent-gym reproduce train-on-prediction: --veto-when must be 'any' or a "
                  f"share in (0, 1], got {args.veto_when!r}.", file=sys.stderr)
            return 2
    try:
        common = _common(args)
        if common["timesteps"] is None:
            del common["timesteps"]  # the experiment's own default
        config = TrainOnPredictionConfig(
            **common, predictor=args.predictor, k=args.k, veto_when=veto_when,
            max_new_tokens=args.max_new_tokens, policy=args.policy, corpus=args.corpus,
            ppo_kwargs={"ent_coef": args.ent_coef})
    except ValueError as exc:
        print(f"consent-gym reproduce train-on-prediction: {exc}", file=sys.stderr)
        return 2
    timesteps = config.resolved()[0]
    print(f"consent-gym reproduce train-on-prediction: {config.seeds} seeds x 3 arms "
          f"(ungated, original-gated, panel-gated), {timesteps} timesteps each, judge "
          f"{config.judge}, copy {config.predictor} (k={config.k}, veto when "
          f"{config.veto_when}), mode {config.mode}, panel policy {config.policy}", flush=True)
    try:
        results = run_train_on_prediction(config, log=lambda line: print(line, flush=True))
    except ValueError as exc:
        print(f"consent-gym reproduce train-on-prediction: {exc}", file=sys.stderr)
        return 2
    _report(results)
    print(results["flag_summary"])
    level = results["judge_level"]
    print("Judge level (held-out corpus episodes):", level.get("skipped", ""))
    if "table" in level:
        print(level["table"])
    return 0


def _llm_delivery(args: argparse.Namespace) -> int:
    from consent_gym.experiments.llm_delivery import LLMDeliveryConfig, run_llm_delivery

    config = LLMDeliveryConfig(
        out=args.out, steps=args.steps, generations=args.generations,
        completion_tokens=args.completion_tokens, eval_samples=args.eval_samples,
        learning_rate=args.learning_rate, seed=args.seed, threads=args.threads,
        arms=tuple(dict.fromkeys(args.arms)),
    )
    print(f"consent-gym reproduce llm-delivery: arms {', '.join(config.arms)} x {config.steps} "
          f"GRPO steps of {config.generations} completions x {config.completion_tokens} tokens",
          flush=True)
    results = run_llm_delivery(config, log=lambda line: print(line, flush=True))
    print()
    print(results["table"])
    for arm in (a for a in config.arms if a != "ungated"):
        print(f"Judge vs ground truth ({arm} arm's training completions): "
              f"{results['phases'][arm]['judge_vs_truth']}")
    print(f"Wall time: {results['wall_s']:.1f} s")
    print(f"Wrote {Path(config.out) / 'results.json'} and {results['plot']}")
    return 0
