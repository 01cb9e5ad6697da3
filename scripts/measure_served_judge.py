"""Measure the served judge against the embedded one on the same texts (docs/served-judge.md).

Starts llama-cpp-python's server (scripts/llama_server.py) on 127.0.0.1 serving the embedded
judge's own GGUF, and reports, as one JSON object:

- agreement: the served and the embedded judge (same prompts, same scoring rule) on
  judge-bench dev: verdict agreement, balanced accuracy of each, score differences;
- nondeterminism: the largest |log-prob difference| between readings of the lock's canaries
  (sequential, all in flight, and on a restarted server with the same weights);
- throughput: episodes/s and requests/s of the served judge (1 and 4 requests in flight)
  and episodes/s of the embedded judge, on the same texts (the first few dev texts, marked
  so no server-side prefix of an earlier pass is complete), cache off, one after the other;
- exact_topk: seconds per echoed token of the unpatched server (``--exact-topk``);
- training (``--phases training``): PPO on DeliveryCurb, side by side in one run, ungated,
  gated by the served judge, and gated with pipelined judging (``pipeline=True``): wall
  time of each arm, the time the rollouts waited for verdicts, requests/s and episodes/s
  against the server, and whether the two gated arms used the same verdicts;
- overlap (``--phases overlap``): three episodes judged by the server alone, then sent
  ahead through a pipeline while the loop "steps" (a sleep as long as the judging took:
  stepping that leaves the CPU to the server, as an env or learner on other hardware
  would), then decided: the wall time with and without the pipeline, twice;
- history (``--phases history``): one episode's score after an unrelated request, after a
  similar one in another call, and right after a similar one under the same header (one
  batch): llama-cpp-python reuses the KV cache of the prefix shared with the previous
  request and evaluates the rest in a batch whose size picks the kernel.

Usage: ``python scripts/measure_served_judge.py [--dev PATH] [--limit N] [--skip-exact]
[--phases agreement,throughput,nondeterminism,exact_topk,training]``
(from a git worktree: ``CONSENT_GYM_SHARED=/path/to/shared``).
Timings on a shared machine are noisy: the load average is recorded with them. One JSON
line is printed per finished phase (each holds everything so far).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent_gym.evaluation import load_labelled_jsonl  # noqa: E402
from consent_gym.judge_pipeline import JudgePipeline  # noqa: E402
from consent_gym.judges import judge_texts  # noqa: E402
from consent_gym.judges.served import ServedJudge, freeze_served_judge  # noqa: E402
from tests.judges.llama_servers import MODEL, llama_server, packaged_gguf  # noqa: E402

PHASES = ("agreement", "throughput", "nondeterminism", "exact_topk", "training", "overlap",
          "history")
#: The training phase's judge: one header pair, no examples (2 short requests an episode,
#: where the default judge sends 6 long ones), so three arms fit in minutes on 2 cores.
SHORT_JUDGE = {"headers": "traffic", "examples": []}


def balanced_accuracy(approved: list[bool], acceptable: list[bool]) -> float:
    pos = [a for a, y in zip(approved, acceptable, strict=True) if y]
    neg = [not a for a, y in zip(approved, acceptable, strict=True) if not y]
    return 0.5 * (sum(pos) / max(len(pos), 1) + sum(neg) / max(len(neg), 1))


def max_diff(a: list, b: list) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        worst = max([worst, *(abs(p - q) for p, q in zip(x.logprobs, y.logprobs, strict=True))])
    return worst


def report(out: dict, phase: str) -> None:
    """Print the figures so far (one JSON line per finished phase)."""
    print(json.dumps({"phase": phase, **out}), flush=True)


def train_arm(url: str | None, args: argparse.Namespace, pipeline: bool,
              audit: Path | None) -> dict:
    """One PPO run on DeliveryCurb: ungated (``url`` None) or gated by a fresh served judge
    (in-memory verdict cache, as in training); its wall time and what the judge did."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

    env_id, seed = "consent_gym/DeliveryCurb-v0", 0
    ppo = {"n_steps": args.train_n_steps, "batch_size": 64, "n_epochs": 4, "seed": seed,
           "device": "cpu", "policy_kwargs": {"net_arch": [32]}}
    load = os.getloadavg()[0]
    if url is None:
        venv = make_vec_env(env_id, n_envs=args.train_envs, seed=seed)
        model = PPO("MlpPolicy", venv, **ppo)
        start = time.perf_counter()
        model.learn(args.train_timesteps)
        return {"wall_s": time.perf_counter() - start, "loadavg_1min_at_start": load}
    judge_kwargs = SHORT_JUDGE if args.train_judge == "short" else {}
    judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=True, max_in_flight=1,
                        **judge_kwargs)
    venv = make_consent_vec_env(env_id, n_envs=args.train_envs, seed=seed)
    ahead = JudgePipeline(workers=args.pipeline_workers) if pipeline else False
    model = PPO("MlpPolicy", venv, **ppo,
                **consent_kwargs(judge, mode="zero", audit_log=audit, pipeline=ahead))
    requests_before = judge.client.requests
    start = time.perf_counter()
    model.learn(args.train_timesteps, callback=ConsentCallback())
    wall = time.perf_counter() - start
    stats = model.rollout_buffer.stats
    requests = judge.client.requests - requests_before
    scored = len(judge.cache) if judge.cache is not None else stats.judged
    model.rollout_buffer.consent.close()
    if isinstance(ahead, JudgePipeline):
        ahead.close()
    judge.close()
    return {"wall_s": wall, "loadavg_1min_at_start": load,
            "loadavg_1min_at_end": os.getloadavg()[0],
            "rollouts": stats.judge_calls, "episodes_decided": stats.judged,
            "episodes_scored_by_server": scored, "prefetched": stats.prefetched,
            "vetoed": stats.vetoed, "failed": stats.failed,
            "waited_for_verdicts_s": stats.judge_seconds, "requests": requests,
            "requests_per_s": requests / wall, "episodes_scored_per_s": scored / wall}


def measure_training(args: argparse.Namespace, out: dict) -> None:
    """Ungated, gated and gated + pipelined PPO on DeliveryCurb, one after the other."""
    import tempfile

    from consent_gym import read_audit_log

    training: dict = {"timesteps": args.train_timesteps, "n_envs": args.train_envs,
                      "n_steps": args.train_n_steps, "judge": args.train_judge,
                      "order": args.train_order, "pipeline_workers": args.pipeline_workers}
    # n_ctx 2048: an episode of DeliveryCurb's 50 steps is a long text
    with llama_server(packaged_gguf(), n_ctx=2048) as (url, _), \
            tempfile.TemporaryDirectory() as tmp:
        # the same judge, once unmeasured: the server is warm for every arm
        ServedJudge(url, MODEL, allow_unlocked=True, cache=False,
                    **(SHORT_JUDGE if args.train_judge == "short" else {})).close()
        training["ungated"] = train_arm(None, args, False, None)
        report({**out, "training": training}, "training:ungated")
        for arm in args.train_order.split(","):
            pipeline = arm == "pipelined"
            training[arm] = train_arm(url, args, pipeline, Path(tmp) / f"{arm}.jsonl")
            report({**out, "training": training}, f"training:{arm}")
        logs = {arm: [(x["text_sha256"], x["approved"], x["p_acceptable"])
                      for x in read_audit_log(Path(tmp) / f"{arm}.jsonl")]
                for arm in ("gated", "pipelined")}
        pairs = list(zip(logs["gated"], logs["pipelined"], strict=True))
        training["same_texts_in_both_gated_arms"] = all(a[0] == b[0] for a, b in pairs)
        training["approvals_that_differ"] = sum(a[1] != b[1] for a, b in pairs)
        training["p_acceptable_max_abs_diff"] = max(abs(a[2] - b[2]) for a, b in pairs)
        training["audit_lines"] = {arm: len(lines) for arm, lines in logs.items()}
    out["training"] = training
    report(out, "training")


def measure_overlap(out: dict) -> None:
    """Judging alone vs sent ahead during (sleep) stepping of the same length."""
    from consent_gym.gate import ConsentSettings, Piece, decide, submit_to_pipeline

    texts = ["The car followed the road to the customer and delivered the parcel.",
             "The car waited at a red light, then drove on to the customer.",
             "The car drove over the curb onto the sidewalk and hit a pedestrian."]
    overlap: dict = {"texts": len(texts), "judge": "short"}
    with llama_server(packaged_gguf()) as (url, _):
        judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, **SHORT_JUDGE)
        overlap["loadavg_1min_at_start"] = os.getloadavg()[0]
        for rep in range(2):
            start = time.perf_counter()
            judge_texts(judge, texts)
            judging = time.perf_counter() - start
            settings = ConsentSettings(judge, pipeline=True)
            start = time.perf_counter()
            submit_to_pipeline(settings, texts)
            time.sleep(judging)  # the envs step
            before = time.perf_counter()
            decide(settings, [Piece(t, 1.0) for t in texts])
            waited = time.perf_counter() - before
            total = time.perf_counter() - start
            settings.close()
            overlap[f"rep{rep}"] = {"judging_s": judging, "stepping_s": judging,
                                    "without_pipeline_s": 2 * judging,
                                    "with_pipeline_s": total, "decide_waited_s": waited}
        overlap["loadavg_1min_at_end"] = os.getloadavg()[0]
        judge.close()
    out["overlap"] = overlap
    report(out, "overlap")


def measure_history(out: dict) -> None:
    """Does a served score depend on the request before it?"""
    first = "The car drove on the road. Time ran out at step 40 before the parcel was delivered."
    similar = first.replace("step 40", "step 37")
    unrelated = "Completely unrelated words about cooking pasta with tomatoes and basil."
    with llama_server(packaged_gguf(), n_ctx=2048) as (url, _):
        judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, max_in_flight=1,
                            **SHORT_JUDGE)
        judge.score_texts([unrelated])
        after_unrelated = judge.score_texts([similar])[0]
        judge.score_texts([unrelated])
        judge.score_texts([first])
        after_similar_call = judge.score_texts([similar])[0]
        in_batch = judge.score_texts([first, similar])[1]  # header-major: adjacent prompts
        judge.close()
    out["history"] = {"score_after_unrelated": after_unrelated,
                      "score_after_similar_in_another_call": after_similar_call,
                      "score_right_after_similar_same_header": in_batch}
    report(out, "history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("CONSENT_GYM_SHARED", ROOT.parent / "shared"))
    parser.add_argument("--dev", type=Path, default=shared / "judge-bench/dev.jsonl",
                        help="judge-bench dev (default: $CONSENT_GYM_SHARED or ../shared)")
    parser.add_argument("--limit", type=int, default=None, help="first N rows only")
    parser.add_argument("--throughput-texts", type=int, default=6,
                        help="texts timed for throughput, each judge on the same ones (6)")
    parser.add_argument("--skip-exact", action="store_true")
    parser.add_argument("--dtype", default="float32", help="the embedded judge's dtype")
    parser.add_argument("--phases", default="agreement,throughput,nondeterminism,exact_topk",
                        help=f"comma-separated, from {','.join(PHASES)}")
    parser.add_argument("--train-timesteps", type=int, default=512)
    parser.add_argument("--train-envs", type=int, default=2)
    parser.add_argument("--train-n-steps", type=int, default=128)
    parser.add_argument("--train-judge", choices=("short", "default"), default="short",
                        help="short: one header pair, no examples (SHORT_JUDGE)")
    parser.add_argument("--pipeline-workers", type=int, default=1,
                        help="JudgePipeline workers of the pipelined arm (1, its default)")
    parser.add_argument("--train-order", default="gated,pipelined",
                        help="order of the gated arms (gated,pipelined or pipelined,gated)")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if phases - set(PHASES) or args.train_order not in ("gated,pipelined", "pipelined,gated"):
        parser.error(f"--phases takes {PHASES}; --train-order gated,pipelined or "
                     "pipelined,gated")
    if args.skip_exact:
        phases.discard("exact_topk")
    out: dict = {"cpus": os.cpu_count()}
    if phases & {"agreement", "throughput", "nondeterminism", "exact_topk"}:
        measure_judge(args, phases, out)
    if "training" in phases:
        measure_training(args, out)
    if "overlap" in phases:
        measure_overlap(out)
    if "history" in phases:
        measure_history(out)


def measure_judge(args: argparse.Namespace, phases: set[str], out: dict) -> None:
    """The agreement, throughput and nondeterminism phases (run together: each reuses the
    judges of the one before), and exact_topk if asked."""
    rows = load_labelled_jsonl(args.dev)[: args.limit]
    texts = [r["text"] for r in rows]
    labels = [bool(r["acceptable"]) for r in rows]
    out.update({"n": len(texts), "dev": str(args.dev)})

    from consent_gym.judges import LLMJudge

    embedded = LLMJudge(dtype=args.dtype, cache=False)
    out["embedded"] = {"judge_id": embedded.judge_id, "dtype": args.dtype}
    with llama_server(packaged_gguf(), n_ctx=1024) as (url, _):
        served = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, max_in_flight=1)
        load = os.getloadavg()[0]
        e_scores = embedded.score_texts(texts)
        maybe_scores = served.score_texts(texts)
        failed = sum(v is None for v in maybe_scores)
        s_scores = [math.nan if v is None else v for v in maybe_scores]
        e_ok = [s > embedded.threshold for s in e_scores]
        s_ok = [s > served.threshold for s in s_scores]
        diffs = [abs(a - b) for a, b in zip(e_scores, s_scores, strict=True)]
        out["agreement"] = {
            "verdicts_agree": sum(a == b for a, b in zip(e_ok, s_ok, strict=True)),
            "of": len(texts),
            "failed": failed,
            "loadavg_1min": load,
            "balanced_accuracy_embedded": balanced_accuracy(e_ok, labels),
            "balanced_accuracy_served": balanced_accuracy(s_ok, labels),
            "score_abs_diff_mean": statistics.fmean(diffs),
            "score_abs_diff_max": max(diffs),
            "score_abs_embedded_mean": statistics.fmean(abs(s) for s in e_scores),
            "pearson": statistics.correlation(e_scores, s_scores),
            "pairs": [[round(a, 3), round(b, 3)] for a, b in zip(e_scores, s_scores,
                                                                 strict=True)],
        }
        report(out, "agreement")
        # throughput: the same texts, each judge in turn, cache off
        few = [f"{t} (timed)" for t in texts[: args.throughput_texts]]
        four = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, max_in_flight=4)
        timing: dict = {"texts": len(few), "loadavg_1min_at_start": os.getloadavg()[0]}
        start = time.perf_counter()
        embedded.score_texts(few)
        timing["embedded_episodes_per_s"] = len(few) / (time.perf_counter() - start)
        for name, judge in (("served_1_in_flight", served), ("served_4_in_flight", four)):
            before = judge.client.requests
            start = time.perf_counter()
            judge_texts(judge, [f"{t} {name}" for t in few])
            seconds = time.perf_counter() - start
            timing[f"{name}_episodes_per_s"] = len(few) / seconds
            timing[f"{name}_requests_per_s"] = (judge.client.requests - before) / seconds
        timing["loadavg_1min_at_end"] = os.getloadavg()[0]
        out["throughput"] = timing
        report(out, "throughput")
        # nondeterminism: sequential vs in flight, then a restarted server
        lock = freeze_served_judge(served, repeats=3)
        out["nondeterminism"] = {"freeze_max_abs_diff": lock.calibration["max_abs_diff"],
                                 "tolerance": lock.tolerance, "canaries": len(lock.readings),
                                 "canary_tokens": sum(len(r.tokens) for r in lock.readings)}
    with llama_server(packaged_gguf(), n_ctx=1024, threads=2) as (url, _):
        again = ServedJudge(url, MODEL, allow_unlocked=True, cache=False)
        readings = again.read_canaries(lock.texts)
        out["nondeterminism"]["restart_2_threads_max_abs_diff"] = max_diff(
            list(lock.readings), readings)
    report(out, "nondeterminism")
    if "exact_topk" in phases:
        with llama_server(packaged_gguf(), n_ctx=1024, exact_topk=True) as (url, _):
            exact = ServedJudge(url, MODEL, allow_unlocked=True, cache=False)
            text = lock.texts[0]
            start = time.perf_counter()
            (reading,) = exact.read_canaries([text])
            seconds = time.perf_counter() - start
            out["exact_topk"] = {"tokens": len(reading.tokens) + 2, "seconds": seconds,
                                 "seconds_per_token": seconds / (len(reading.tokens) + 2),
                                 "max_abs_diff_vs_fast": max_diff([lock.readings[0]],
                                                                  [reading])}
        report(out, "exact_topk")


if __name__ == "__main__":
    main()
