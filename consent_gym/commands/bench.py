"""``consent-gym bench``: what consent gating costs, measured side by side.

Subcommands:

- ``wrapper``: env steps/s raw vs under ``ConsentWrapper`` with a judge that costs
  nothing (recording and rendering only), CartPole and DeliveryCurb, interleaved.
- ``judge``: a judge's uncached episodes/s and tokens/s at several batch sizes and episode
  lengths, the fraction of this CPU's fp32 matmul rate it reaches, cached verdicts/s, load
  time warm (and cold with ``--cold``). ``--judge probe`` (the default judge,
  :mod:`consent_gym.benchmarks.probe_judge`) also reports chunks per episode and the
  positions its encoder computes; ``--judge llm`` (the prompted LLM judge,
  :mod:`consent_gym.benchmarks.judge`) also the bf16 rate when it runs in bf16 (``--dtype``).
- ``train``: wall time of gated vs ungated PPO on DeliveryCurb for the same timesteps.

With ``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from consent_gym.judge_registry import DEFAULT_JUDGE, JUDGE_CHOICES, add_served_arguments

WRAPPER_ENVS = ("CartPole-v1", "consent_gym/DeliveryCurb-v0")
#: ``bench judge --dtype`` choices (as consent_gym.judges.llm.DTYPE_CHOICES, without
#: importing torch to build the parser).
DTYPE_CHOICES = ("auto", "float32", "bfloat16")
#: The judges ``bench judge`` can time (each has its own FLOP accounting), in
#: :data:`~consent_gym.judge_registry.JUDGE_CHOICES` order; the default is the default judge.
BENCH_JUDGE_CHOICES = tuple(name for name in JUDGE_CHOICES if name in ("probe", "llm"))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` and its subcommands; sets ``func=run``."""
    parser = subparsers.add_parser("bench", help="measure what consent gating costs")
    kinds = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    wrapper = kinds.add_parser("wrapper", help="env steps/s raw vs under ConsentWrapper")
    wrapper.add_argument("--steps", type=int, default=5_000, help="steps per repetition")
    wrapper.add_argument("--repeats", type=int, default=21,
                         help="interleaved raw/wrapped pairs (the ratio is their median)")
    wrapper.add_argument("--env", action="append", default=None,
                         help=f"env id (repeatable; default: {', '.join(WRAPPER_ENVS)})")
    judge = kinds.add_parser(
        "judge", help="a judge's uncached/cached speed and matmul fraction (default: the "
                      "default probe judge)"
    )
    judge.add_argument("--judge", choices=BENCH_JUDGE_CHOICES, default=DEFAULT_JUDGE,
                       help="the judge to time (default probe: the default judge, Gemma's "
                            "hidden states up to the readout layer; llm: the prompted LLM "
                            "judge)")
    judge.add_argument("--batch-sizes", type=_int_list, default=None,
                       help="comma-separated batch sizes (default 1,8,16,32; --quick: 1,16)")
    judge.add_argument("--episode-tokens", type=_int_list, default=None,
                       help="comma-separated episode lengths in tokens (default 32,64,128; "
                            "--quick: 64)")
    judge.add_argument("--min-episodes", type=int, default=None,
                       help="at least this many episodes per configuration (default 4; "
                            "--quick: 2)")
    judge.add_argument("--quick", action="store_true",
                       help="fewer configurations (batch 1 and 16 at 64 tokens)")
    judge.add_argument("--cold", action="store_true",
                       help="also time a cold load (GGUF conversion into an empty cache "
                            "folder, about a minute)")
    judge.add_argument("--instructions", type=Path, default=None, metavar="FILE",
                       help="--judge llm: a constitution file for the judge (lengthens every "
                            "prompt's header)")
    judge.add_argument("--no-warm-load", action="store_true",
                       help="skip timing a warm load in a fresh process")
    judge.add_argument("--dtype", choices=DTYPE_CHOICES, default=None,
                       help="--judge llm: the judge's weight dtype (default: auto, bfloat16 "
                            "where the CPU multiplies bf16 natively, else float32; the probe "
                            "judge runs in float32)")
    train = kinds.add_parser("train", help="wall time of gated vs ungated PPO on DeliveryCurb")
    train.add_argument("--timesteps", type=int, default=10_240, help="PPO timesteps per run")
    train.add_argument("--repeats", type=int, default=1, help="interleaved runs per arm")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the first repeat (repeat r uses seed + r)")
    train.add_argument("--eval-episodes", type=int, default=10,
                       help="episodes of the plain env that each learned policy plays")
    train.add_argument("--env", default="consent_gym/DeliveryCurb-v0", help="env id")
    train.add_argument("--warm-from-seed", type=int, default=None, metavar="SEED",
                       help="start the timed gated run with the verdicts of an untimed gated "
                            "run of SEED (a sweep sharing one cache); default: a cold cache")
    train.add_argument("--judge", choices=JUDGE_CHOICES, default=DEFAULT_JUDGE,
                       help="the gated arm's judge (default probe: the embedded default "
                            "judge; llm: the prompted LLM judge; cascade: the embedding judge "
                            "may veto, the LLM decides the rest; served: a judge on an "
                            "inference server, see below)")
    add_served_arguments(train)
    for sub in (wrapper, judge, train):
        sub.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=run)
    return parser


def _int_list(value: str) -> list[int]:
    """``"1,8,16"`` -> ``[1, 8, 16]`` (each >= 1)."""
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {value!r}"
        ) from exc
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {value!r}")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark; prints a table, and a JSON line with ``--json``."""
    if args.bench == "wrapper":
        return _run_wrapper(args)
    if args.bench == "judge":
        return _run_judge(args)
    if args.bench == "train":
        return _run_train(args)
    raise ValueError(f"unknown benchmark {args.bench!r}")  # argparse prevents this


def _run_wrapper(args: argparse.Namespace) -> int:
    import consent_gym  # noqa: F401  (registers consent_gym/* ids)
    from consent_gym.benchmarks.wrapper import bench_wrapper

    if args.steps < 1 or args.repeats < 1:
        raise SystemExit("consent-gym bench wrapper: --steps and --repeats must be >= 1")
    results = [bench_wrapper(env_id, steps=args.steps, repeats=args.repeats)
               for env_id in (args.env or WRAPPER_ENVS)]
    print(f"{'env':32} {'raw steps/s':>12} {'gated steps/s':>14} {'overhead':>9} {'episodes':>9}")
    for r in results:
        print(f"{r.env_id:32} {r.raw_steps_per_s:12.0f} {r.wrapped_steps_per_s:14.0f} "
              f"{r.overhead_ratio:9.3f} {r.episodes_judged:9d}")
    if args.json:
        print(json.dumps({
            "benchmark": "wrapper",
            "overhead_ratio": {r.env_id: r.overhead_ratio for r in results},
            "results": [r.to_dict() for r in results],
        }))
    return 0


def _load_note() -> str:
    import os

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"


def _run_judge(args: argparse.Namespace) -> int:
    sizes = args.batch_sizes or ([1, 16] if args.quick else [1, 8, 16, 32])
    lengths = args.episode_tokens or ([64] if args.quick else [32, 64, 128])
    min_episodes = args.min_episodes if args.min_episodes is not None else (2 if args.quick else 4)
    if min_episodes < 1:
        raise SystemExit("consent-gym bench judge: --min-episodes must be >= 1")
    headline = 64 if 64 in lengths else lengths[len(lengths) // 2]
    if args.judge == "probe":
        return _run_probe_judge(args, sizes, lengths, headline, min_episodes)
    return _run_llm_judge(args, sizes, lengths, headline, min_episodes)


def _run_probe_judge(args: argparse.Namespace, sizes: list[int], lengths: list[int],
                     headline: int, min_episodes: int) -> int:
    from consent_gym.benchmarks.probe_judge import bench_probe_judge

    llm_only = [flag for flag, given in (("--dtype", args.dtype is not None),
                                         ("--instructions", args.instructions is not None))
                if given]
    if llm_only:
        raise SystemExit(f"consent-gym bench judge: {' and '.join(llm_only)} apply to --judge "
                         f"llm only (the probe judge has no prompt and runs in float32)")
    print(f"Timing the default probe judge ({_load_note()}) ...", flush=True)
    result = bench_probe_judge(batch_sizes=sizes, episode_tokens=lengths,
                               headline_tokens=headline, min_episodes=min_episodes,
                               warm_load=not args.no_warm_load, cold_load=args.cold,
                               log=lambda line: print(f"  {line}", flush=True))
    print(f"judge {result.judge_id} ({result.model_name}, float32, {result.threads} threads): "
          f"layers 1-{result.readout_layer} of {result.encoder_layers} run "
          f"({result.layer_params / 1e6:.1f}M params), "
          + (f"a chunk scores as its best {result.window}-token span"
             + (" plus its last token" if result.context else "")
             + (f", read after the {result.prefix_chunks} chunk(s) before it"
                if result.prefix_chunks else "") + ", " if result.window
             else f"{result.pooling}-pooled per chunk, ")
          + f"{result.chunk_batch_size} chunks per forward")
    print(f"{'batch':>5} {'tokens':>7} {'episodes':>8} {'seconds':>8} {'eps/s':>7} "
          f"{'tokens/s':>9} {'chunks/ep':>9} {'distinct':>8} {'enc pos/s':>9} "
          f"{'matmul GF/s':>11} {'flop frac':>9}")
    for r in result.results:
        print(f"{r.batch_size:5d} {r.mean_tokens:7.1f} {r.episodes:8d} {r.seconds:8.2f} "
              f"{r.episodes_per_s:7.2f} {r.tokens_per_s:9.1f} {r.chunks_per_episode:9.2f} "
              f"{r.distinct_chunks_per_episode:8.2f} {r.encoder_tokens_per_s:9.1f} "
              f"{r.matmul_gflops:11.1f} {r.flop_fraction:9.3f}")
    h = result.headline
    print(f"headline (batch {h.batch_size}, ~{h.episode_tokens}-token episodes): "
          f"{h.episodes_per_s:.2f} episodes/s, {h.tokens_per_s:.1f} tokens/s, flop fraction "
          f"{h.flop_fraction:.3f} of the fp32 matmul rate {h.matmul_gflops:.1f} GFLOP/s "
          f"(FLOPs: 2 x {result.layer_params / 1e6:.1f}M x encoder positions, padding "
          f"included)")
    print(f"cached: {result.cached_verdicts_per_s:,.0f} verdicts/s; load: warm "
          f"{_seconds(result.warm_load_s)} ({_seconds(result.warm_load_with_imports_s)} with "
          f"imports), cold {_seconds(result.cold_load_s)}, in this process "
          f"{result.load_s:.1f} s; {_load_note()}")
    if args.json:
        print(json.dumps({"benchmark": "judge", **result.to_dict()}))
    return 0


def _run_llm_judge(args: argparse.Namespace, sizes: list[int], lengths: list[int],
                   headline: int, min_episodes: int) -> int:
    from consent_gym.benchmarks.judge import bench_judge

    dtype = args.dtype or "auto"
    instructions = None
    if args.instructions is not None:
        try:
            instructions = args.instructions.read_text(encoding="utf-8")
        except OSError as exc:
            raise SystemExit(f"consent-gym bench judge: cannot read --instructions: {exc}") from exc
    print(f"Timing the prompted LLM judge ({_load_note()}) ...", flush=True)
    result = bench_judge(batch_sizes=sizes, episode_tokens=lengths, headline_tokens=headline,
                         min_episodes=min_episodes, warm_load=not args.no_warm_load,
                         cold_load=args.cold, instructions=instructions, dtype=dtype,
                         log=lambda line: print(f"  {line}", flush=True))
    cost = result.cost
    print(f"judge {result.judge_id} ({result.model_name}, method {result.method}, "
          f"{result.dtype} (--dtype {dtype}), {result.threads} threads): {cost.prompts} "
          f"prompts of "
          f"{'/'.join(map(str, cost.header_tokens))} header tokens "
          f"({sum(cost.header_tokens)} in all, KV-cached); {cost.body_params / 1e6:.1f}M "
          f"non-embedding params, output head {cost.head_params / 1e6:.1f}M")
    print(f"{'batch':>5} {'tokens':>7} {'episodes':>8} {'seconds':>8} {'eps/s':>7} "
          f"{'tokens/s':>9} {'matmul GF/s':>11} {'flop frac':>9} {'+head':>7}"
          + (f" {'bf16 GF/s':>9} {'bf16 frac':>9}" if result.dtype == "bfloat16" else ""))
    for r in result.results:
        bf16 = ("" if r.bf16_matmul_gflops is None else
                f" {r.bf16_matmul_gflops:9.1f} {r.flop_fraction_bf16:9.3f}")
        print(f"{r.batch_size:5d} {r.mean_tokens:7.1f} {r.episodes:8d} {r.seconds:8.2f} "
              f"{r.episodes_per_s:7.3f} {r.tokens_per_s:9.1f} {r.matmul_gflops:11.1f} "
              f"{r.flop_fraction:9.3f} {r.flop_fraction_with_head:7.3f}{bf16}")
    h = result.headline
    print(f"headline (batch {h.batch_size}, ~{h.episode_tokens}-token episodes): "
          f"{h.episodes_per_s:.3f} episodes/s, {h.tokens_per_s:.1f} tokens/s, flop fraction "
          f"{h.flop_fraction:.3f} ({h.flop_fraction_with_head:.3f} with the output head) of "
          f"the fp32 matmul rate {h.matmul_gflops:.1f} GFLOP/s")
    if h.bf16_matmul_gflops is not None:
        print(f"  bf16 judge: flop fraction {h.flop_fraction_bf16:.3f} "
              f"({h.flop_fraction_bf16_with_head:.3f} with the output head) of the bf16 "
              f"matmul rate {h.bf16_matmul_gflops:.1f} GFLOP/s")
    print(f"cached: {result.cached_verdicts_per_s:,.0f} verdicts/s; load: warm "
          f"{_seconds(result.warm_load_s)} ({_seconds(result.warm_load_with_imports_s)} with "
          f"imports), cold {_seconds(result.cold_load_s)}, in this process "
          f"{result.load_s:.1f} s; {_load_note()}")
    if args.json:
        print(json.dumps({"benchmark": "judge", "judge": "llm", **result.to_dict()}))
    return 0


def _seconds(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} s"


def _run_train(args: argparse.Namespace) -> int:
    from consent_gym.benchmarks.train import bench_train

    if args.timesteps < 1 or args.repeats < 1 or args.eval_episodes < 1:
        raise SystemExit("consent-gym bench train: --timesteps, --repeats and --eval-episodes "
                         "must be >= 1")
    print(f"Loading the {args.judge} judge ({_load_note()}) ...", flush=True)
    from consent_gym.judge_registry import load_judge, served_options

    judge = load_judge(args.judge, served=served_options(args))
    print(f"Training PPO on {args.env} for {args.timesteps} timesteps, ungated and gated ...",
          flush=True)
    r = bench_train(judge, timesteps=args.timesteps, env_id=args.env, repeats=args.repeats,
                    seed=args.seed, warm_from_seed=args.warm_from_seed,
                    eval_episodes=args.eval_episodes)
    print(f"{'arm':8} {'seed':>5} {'wall s':>8} {'update s':>9} {'judge s':>8} "
          f"{'rollout s':>10} {'return':>8}")
    for arm in (*r.ungated, *r.gated):
        print(f"{'gated' if arm.gated else 'ungated':8} {arm.seed:5d} {arm.seconds:8.1f} "
              f"{arm.update_seconds:9.1f} {arm.judge_seconds:8.1f} {arm.rollout_seconds:10.1f} "
              f"{arm.mean_return:8.1f}")
    ratio = "n/a" if r.return_ratio is None else f"{r.return_ratio:.3f}"
    print(f"mean evaluation return: ungated {r.mean_returns[0]:.1f}, gated "
          f"{r.mean_returns[1]:.1f} (gated/ungated {ratio})")
    hit = "unknown" if r.cache_hit_rate is None else f"{r.cache_hit_rate:.3f}"
    if r.warm_from_seed is not None:
        hit += f" (cache warmed by a run of seed {r.warm_from_seed})"
    print(f"gated/ungated {r.gated_over_ungated:.2f}x; judge share of gated wall time "
          f"{r.judge_share:.1%}; cache hit rate {hit}; veto rate {r.veto_rate:.3f}")
    print(f"{r.judge_calls} judge calls in {r.rollouts} rollouts; {r.texts_judged} texts "
          f"({r.finished_pieces} finished episodes, {r.fragment_pieces} running fragments), "
          f"{r.distinct_texts} distinct; {r.duplicates_within_calls} duplicates inside a call, "
          f"{r.repeated_across_calls} repeats of earlier calls; finished episodes judged twice: "
          f"{r.episodes_judged_twice}; {_load_note()}")
    if args.json:
        print(json.dumps({"benchmark": "train", **r.to_dict()}))
    return 0
