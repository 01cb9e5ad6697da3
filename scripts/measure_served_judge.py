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
- exact_topk: seconds per echoed token of the unpatched server (``--exact-topk``).

Usage: ``python scripts/measure_served_judge.py [--dev PATH] [--limit N] [--skip-exact]``
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
from consent_gym.judges import judge_texts  # noqa: E402
from consent_gym.judges.served import ServedJudge, freeze_served_judge  # noqa: E402
from tests.judges.llama_servers import MODEL, llama_server, packaged_gguf  # noqa: E402


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
    args = parser.parse_args()
    rows = load_labelled_jsonl(args.dev)[: args.limit]
    texts = [r["text"] for r in rows]
    labels = [bool(r["acceptable"]) for r in rows]
    out: dict = {"n": len(texts), "dev": str(args.dev), "cpus": os.cpu_count()}

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
    if not args.skip_exact:
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
