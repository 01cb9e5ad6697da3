"""``consent-gym eval-judge``: score a judge on labelled episodes or on an env's ground truth.

Four sources of labelled texts (give exactly one):

- ``FILE.jsonl``: rows ``{"text", "acceptable", "tag"}`` (e.g. judge-bench ``dev.jsonl``);
- ``--env ENV_ID --episodes N``: episodes generated in a delivery env with a mix of the
  scripted policies and random actions, rendered by ``renderer_for(env)``; an episode is
  acceptable exactly when the env's ground-truth ``info["harm"]`` is 0.
- ``--benign-suite {tuning,held-out,held-out-2,all}``: episodes of standard envs in which
  nobody can be harmed (:mod:`consent_gym.suites.harmless`), random and competent policies,
  rendered by each env's default renderer; all acceptable. Reports the false-veto rate per
  env, and overall for the tuning envs and each held-out list (``held-out``, the second
  list ``held-out-2``) separately; ``all`` runs every group.
- ``--format-suite {dev,held-out,held-out-2,...,held-out-16}``: labelled delivery
  episodes in formats the project's renderer never produces
  (:mod:`consent_gym.suites.delivery_formats`); reports
  balanced accuracy per format and the share of harmful episodes approved.

Prints balanced accuracy, per-tag accuracy, the confusion matrix and episodes/s (uncached:
the judge's verdict cache is off unless ``--cache`` is given). With ``--json`` the last line
printed is one JSON object (``balanced_accuracy``, ``n``, ``episodes_per_s``, ...).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from typing import Any

from consent_gym.judge_registry import DEFAULT_JUDGE, JUDGE_CHOICES, add_served_arguments
from consent_gym.suites.delivery_formats import SPLITS as FORMAT_SPLITS
from consent_gym.suites.harmless import ENV_GROUPS

JUDGES: tuple[str, ...] = JUDGE_CHOICES
#: The harmless-env groups, in report order (:data:`consent_gym.suites.harmless.ENV_GROUPS`).
BENIGN_GROUPS: tuple[str, ...] = tuple(ENV_GROUPS)
BENIGN_SUITES: tuple[str, ...] = (*BENIGN_GROUPS, "all")
#: The format suite's splits, spelt as options (``held_out_2`` -> ``held-out-2``).
FORMAT_SUITES: tuple[str, ...] = tuple(split.replace("_", "-") for split in FORMAT_SPLITS)
POLICY_MIX: tuple[str, ...] = ("road", "through_boxes", "shortcut", "random", "noisy_road",
                               "noisy_shortcut")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval-judge`` on ``subparsers``; sets ``func=run``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval-judge",
        help="measure a judge: balanced accuracy, per-tag accuracy, confusion, episodes/s",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("file", nargs="?", metavar="FILE.jsonl",
                        help="labelled rows {text, acceptable, tag}")
    parser.add_argument("--judge", choices=JUDGES, default=DEFAULT_JUDGE,
                        help=f"which judge (default {DEFAULT_JUDGE}: the embedded default)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--env", metavar="ENV_ID", help="score against this env's harm instead")
    parser.add_argument("--episodes", type=int, default=60, help="episodes for --env (60)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --env episodes (0)")
    parser.add_argument("--benign-suite", choices=BENIGN_SUITES, default=None,
                        help="score on harmless envs' episodes (false-veto rate per env): the "
                             "envs used in tuning, the first held-out list (held-out), the "
                             "second (held-out-2), or all of them")
    parser.add_argument("--benign-episodes", type=int, default=5,
                        help="--benign-suite: episodes per env and policy (5)")
    parser.add_argument("--format-suite", choices=FORMAT_SUITES, default=None,
                        help="score on delivery episodes in unseen formats: the dev split or one "
                             "of the held-out splits (held-out, held-out-2 to held-out-16)")
    parser.add_argument("--per-format", type=int, default=12,
                        help="--format-suite: episodes per format, half harmful (12)")
    parser.add_argument("--perception", choices=("default", "surface", "informed"),
                        default="default",
                        help="--env: the renderer renderer_for(env) gives (default), or the "
                             "delivery renderer with surface / informed perception")
    llm = parser.add_argument_group("LLM judge options")
    llm.add_argument("--model", help="transformers model id or folder (default: embedded Gemma)")
    llm.add_argument("--method", choices=("channel", "yesno", "yesno_cc"), default=None,
                     help="elicitation method (default: the judge's default)")
    llm.add_argument("--aggregate", choices=("sum", "min_sentence"), default=None,
                     help="channel method: sum over tokens, or the worst sentence")
    llm.add_argument("--headers", default=None,
                     help="noisy-channel header set: traffic, general or ensemble")
    llm.add_argument("--instructions", default=None,
                     help="constitution text, or @FILE to read it from a file")
    llm.add_argument("--examples", metavar="FILE.jsonl", default=None,
                     help="labelled examples used in context")
    llm.add_argument("--zero-shot", action="store_true",
                     help="no in-context examples (default: the judge's built-in examples)")
    llm.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                     help="weight dtype (default auto: bfloat16 where the CPU or GPU "
                          "multiplies it natively, else float32; as default_judge())")
    parser.add_argument("--threshold", type=float, default=None, help="decision threshold")
    parser.add_argument("--batch-size", type=int, default=16, help="texts per forward pass")
    parser.add_argument("--cache", metavar="PATH", default=None,
                        help="sqlite verdict cache (default: no cache, so timing is uncached)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--show-errors", action="store_true",
                        help="list the misjudged texts with their scores")
    add_served_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _build_judge(args: argparse.Namespace) -> Any:
    cache: Any = args.cache if args.cache else False
    if args.judge == "served":
        from consent_gym.judge_registry import load_judge, served_options

        llm = _llm_kwargs(args, cache)
        options = {**(served_options(args) or {}), "cache": cache,
                   **{k: llm[k] for k in ("instructions", "examples", "threshold", "headers")
                      if llm.get(k) is not None}}
        return load_judge("served", served=options)
    if args.judge == "cascade":
        from consent_gym.judges import default_cascade

        return default_cascade(**_llm_kwargs(args, cache))
    if args.judge == "rule":
        from consent_gym.judges import KeywordJudge
        from consent_gym.render.delivery import HARM_PHRASES

        return KeywordJudge(HARM_PHRASES)
    if args.judge == "embedding":
        from consent_gym.judges import EmbeddingJudge

        kwargs: dict[str, Any] = {"cache": cache, "batch_size": max(args.batch_size, 1)}
        if args.threshold is not None:
            kwargs["threshold"] = args.threshold
        return EmbeddingJudge(**kwargs)
    if args.judge in ("probe", "probe-minilm"):
        from consent_gym.judges.probe import ProbeJudge

        return ProbeJudge("gemma" if args.judge == "probe" else "minilm", cache=cache,
                          threshold=args.threshold, batch_size=max(args.batch_size, 1))
    from consent_gym.judges import LLMJudge

    return LLMJudge(**_llm_kwargs(args, cache))


def _llm_kwargs(args: argparse.Namespace, cache: Any) -> dict[str, Any]:
    """The LLM judge's keyword arguments from the command line."""
    from consent_gym.evaluation import load_labelled_jsonl

    instructions = args.instructions
    if instructions and instructions.startswith("@"):
        with open(instructions[1:], encoding="utf-8") as fh:
            instructions = fh.read()
    examples: list[Any] | None = None
    if args.examples:
        examples = load_labelled_jsonl(args.examples)
    elif args.zero_shot:
        examples = []
    kwargs: dict[str, Any] = {
        "model": args.model,
        "instructions": instructions,
        "examples": examples,
        "threshold": args.threshold,
        "batch_size": args.batch_size,
        "cache": cache,
        "dtype": args.dtype,
    }
    if args.method:
        kwargs["method"] = args.method
    if args.headers:
        kwargs["headers"] = args.headers
    if args.aggregate:
        kwargs["aggregate"] = args.aggregate
    return kwargs


def _random_action(env: Any, rng: random.Random) -> int:
    return rng.randrange(int(env.action_space.n))


def env_episodes(
    env_id: str, episodes: int, seed: int = 0, perception: str = "default"
) -> list[dict[str, Any]]:
    """Generate labelled rows from an env: ``{"text", "acceptable", "tag", "harm"}``.

    Policies cycle through :data:`POLICY_MIX`: the scripted road / through-boxes / shortcut
    policies, uniformly random actions, and the scripted road / shortcut policies with 30%
    random actions. ``acceptable`` is ``info["harm"] == 0`` at the end of the episode.
    """
    import gymnasium as gym

    import consent_gym  # noqa: F401  (registers the envs)
    from consent_gym.envs.policies import REFERENCE_POLICIES
    from consent_gym.render import renderer_for
    from consent_gym.trajectory import Step, Trajectory, events_from_info

    env = gym.make(env_id)
    if perception == "default":
        renderer = renderer_for(env)
    else:
        from consent_gym.render.delivery import DeliveryRenderer

        renderer = DeliveryRenderer(perception=perception)
    rng = random.Random(seed)
    rows = []
    for i in range(episodes):
        kind = POLICY_MIX[i % len(POLICY_MIX)]
        scripted = REFERENCE_POLICIES.get(kind.removeprefix("noisy_"))
        eps = 1.0 if kind == "random" else (0.3 if kind.startswith("noisy_") else 0.0)
        obs, info = env.reset(seed=seed * 100_003 + i)
        steps: list[Step] = []
        harm = int(info.get("harm", 0))
        done = False
        while not done:
            if scripted is None or rng.random() < eps:
                action = _random_action(env, rng)
            else:
                action = scripted(obs, env)
            obs, reward, terminated, truncated, info = env.step(action)
            harm = int(info.get("harm", harm))
            steps.append(Step(len(steps), None, action, float(reward), bool(terminated),
                              bool(truncated), events_from_info(info)))
            done = bool(terminated or truncated)
        text = renderer.render(Trajectory(env_id=env_id, episode_index=i, steps=steps))
        rows.append({"text": text, "acceptable": harm == 0, "tag": kind, "harm": harm})
    env.close()
    return rows


def _load_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    """The labelled rows of the one source the command line names, and a description."""
    from consent_gym.evaluation import load_labelled_jsonl

    if args.file:
        return load_labelled_jsonl(args.file), args.file
    if args.env:
        rows = env_episodes(args.env, args.episodes, args.seed, args.perception)
        return rows, f"{args.env} x {args.episodes} episodes (seed {args.seed})"
    if args.benign_suite:
        from consent_gym.suites.harmless import harmless_episodes

        rows = []
        for group, env_ids in ENV_GROUPS.items():
            if args.benign_suite in (group, "all"):
                rows += [{**row, "group": group}
                         for row in harmless_episodes(env_ids, args.benign_episodes, args.seed)]
        return rows, (f"benign suite ({args.benign_suite}) x {args.benign_episodes} episodes "
                      f"per env and policy (seed {args.seed})")
    from consent_gym.suites.delivery_formats import format_episodes

    split = args.format_suite.replace("-", "_")
    rows = format_episodes(split, args.per_format)
    return rows, f"delivery episodes in unseen formats ({args.format_suite}) x {args.per_format}"


def _benign_report(rows: list[dict[str, Any]], approved: list[bool]) -> dict[str, Any]:
    """False-veto rates per env and per (group, policy), overall per group."""
    from consent_gym.evaluation import false_veto_rates

    out: dict[str, Any] = {"per_env": false_veto_rates([r["tag"] for r in rows], approved)}
    for group in sorted({r["group"] for r in rows}):
        picked = [(r, a) for r, a in zip(rows, approved, strict=True) if r["group"] == group]
        rates = false_veto_rates([r["policy"] for r, _ in picked], [a for _, a in picked])
        per_env = false_veto_rates([r["tag"] for r, _ in picked], [a for _, a in picked])
        out[group] = {**rates, "worst_env_rate": max(
            v["false_veto_rate"] for k, v in per_env.items() if k != "overall")}
    del out["per_env"]["overall"]
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``eval-judge``; returns the exit code (0 ok, 2 bad usage)."""
    from consent_gym.evaluation import evaluate_predictions

    sources = [bool(args.file), bool(args.env), bool(args.benign_suite),
               bool(args.format_suite)]
    if sum(sources) != 1:
        print("eval-judge: give exactly one of FILE.jsonl, --env ENV_ID, --benign-suite or "
              "--format-suite.", file=sys.stderr)
        return 2
    if args.episodes < 1 or args.benign_episodes < 1 or args.per_format < 1:
        print("eval-judge: --episodes, --benign-episodes and --per-format must be >= 1.",
              file=sys.stderr)
        return 2
    try:
        rows, source = _load_rows(args)
    except (OSError, ValueError) as exc:
        print(f"eval-judge: {exc}", file=sys.stderr)
        return 2
    if args.threads is not None:
        import torch

        torch.set_num_threads(max(1, args.threads))
    started = time.perf_counter()
    judge = _build_judge(args)
    load_s = time.perf_counter() - started

    from consent_gym.judges import judge_texts

    texts = [r["text"] for r in rows]
    started = time.perf_counter()
    verdicts = judge_texts(judge, texts, on_judge_error="raise")
    seconds = time.perf_counter() - started
    labels = [bool(r["acceptable"]) for r in rows]
    approved = [v.approved for v in verdicts]
    report = evaluate_predictions(
        labels, approved, [str(r.get("tag", "untagged")) for r in rows],
        episodes_per_s=len(texts) / seconds if seconds > 0 else math.inf,
    )
    report.extra.update({
        "source": source,
        "judge": args.judge,
        "judge_id": judge.judge_id,
        "load_seconds": round(load_s, 2),
        "judge_seconds": round(seconds, 2),
        "distinct_texts": len(set(texts)),
    })
    harmful = [a for a, y in zip(approved, labels, strict=True) if not y]
    if harmful:
        report.extra["harmful_approved_rate"] = sum(harmful) / len(harmful)
    if args.judge == "llm":
        report.extra["method"] = getattr(judge, "method", None)
    # approvals on the prompt-injection rows, for the injection report
    inject = [v.approved for v, r in zip(verdicts, rows, strict=True) if r.get("tag") == "inject"]
    if inject:
        report.extra["inject_approval_rate"] = sum(inject) / len(inject)
    print(f"eval-judge: {source}  judge={judge.judge_id}  (loaded in {load_s:.1f} s)")
    if args.benign_suite:
        benign = _benign_report(rows, approved)
        report.extra["false_veto"] = benign
        print(f"{len(texts)} harmless episodes ({len(set(texts))} distinct texts), "
              f"{len(texts) / seconds if seconds > 0 else math.inf:.2f} episodes/s")
        print("false-veto rate per env (every episode is harmless):")
        for group in BENIGN_GROUPS:
            if group not in benign:
                continue
            envs = sorted({r["tag"] for r in rows if r["group"] == group})
            for env_id in envs:
                r = benign["per_env"][env_id]
                print(f"  [{group}] {env_id:<36} {r['vetoed']:3d}/{r['n']:<3d} "
                      f"= {r['false_veto_rate']:.3f}")
            g = benign[group]
            print(f"  [{group}] overall {g['overall']['vetoed']}/{g['overall']['n']} = "
                  f"{g['overall']['false_veto_rate']:.3f}; worst env {g['worst_env_rate']:.3f}; "
                  + ", ".join(f"{p} {g[p]['false_veto_rate']:.3f}"
                              for p in ("random", "competent") if p in g))
    else:
        print(report.format())
        if harmful:
            print(f"harmful approved: {sum(harmful)}/{len(harmful)} = "
                  f"{sum(harmful) / len(harmful):.3f}")
    if args.show_errors:
        print("misjudged:")
        for v, r in zip(verdicts, rows, strict=True):
            if v.approved != r["acceptable"]:
                print(f"  [{r.get('tag')}] acceptable={r['acceptable']} {v.reason}: {r['text']!r}")
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m consent_gym.commands.eval_judge ...`` (same as ``consent-gym eval-judge``)."""
    parser = argparse.ArgumentParser(prog="consent-gym")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval-judge", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
