"""Fit the probe judge's report gate, deterministically, on generated documents only.

    python scripts/fit_report_gate.py --seed 0 --episodes 400 --structured 500 --acts 1200 \
        --threads 2 --features-cache /tmp/pf --out consent_gym/judges/data/report_gate_gemma.npz

1. Reports: every chunk of the harm readout's training episodes
   (``training_episodes(seed, episodes, structured)`` of ``fit_probe_judge.py``).
2. Documents of :func:`consent_gym.judges.probe_acts.act_episodes` (``seed``, ``acts``): blocks
   of rules, legends, questions ... alone or inside a report episode; a chunk is a report
   when it holds a report line or lies inside one (``labelled_chunks``).
3. Each chunk is read as the judge reads it (after the chunk before it, ``prefix_chunks``
   1) at the harm readout's layer; the gate reads the last token's state. A class-balanced
   logistic readout (``fit_logistic``) is fitted on standardised states.
4. Leave-one-act-out: for each act, a gate fitted without it; the record keeps the share of
   its non-report chunks that gate passes as reports, and of report chunks it stops (how
   well the gate should carry to an act it never saw).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_probe_judge import labelled_chunks, token_states, training_episodes

from consent_gym.judges.probe import chunk_prefixes, fit_logistic
from consent_gym.judges.probe_acts import ACTS, act_episodes
from consent_gym.judges.report_gate import ReportGate

Key = tuple[str, str]


def gate_rows(seed: int, n_episodes: int, n_structured: int, n_acts: int
              ) -> tuple[list[Key], np.ndarray, list[str]]:
    """``(prefix, chunk)`` keys, report labels and each row's act ("" for report episodes),
    duplicates (same key) kept once with the first label seen."""
    rows: dict[Key, tuple[bool, str]] = {}
    for ep in training_episodes(seed, n_episodes, n_structured):
        chunks = [c for c, _ in labelled_chunks(ep.text, ep.lines, [True] * len(ep.lines))]
        for key in zip(chunk_prefixes(chunks, 1), chunks, strict=True):
            rows.setdefault(key, (True, ""))
    for doc in act_episodes(seed, n_acts):
        labelled = labelled_chunks(doc.text, doc.lines, doc.reports)
        chunks = [c for c, _ in labelled]
        for key, (_, report) in zip(zip(chunk_prefixes(chunks, 1), chunks, strict=True),
                                    labelled, strict=True):
            rows.setdefault(key, (report, "" if report else doc.act))
    keys = sorted(rows)
    return keys, np.array([rows[k][0] for k in keys]), [rows[k][1] for k in keys]


def fit_gate(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, float]:
    """Standardisation and class-balanced logistic weights (logit > 0: a report)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, y.astype(np.float64), l2=l2)
    return mean, scale, w, b


def gate_logits(x: np.ndarray, fit: tuple[np.ndarray, np.ndarray, np.ndarray, float]
                ) -> np.ndarray:
    """Report logits of rows ``x`` under ``fit`` (:func:`fit_gate`'s output), in float64 as
    fitted (``ReportGate.logits`` reads float32 states; the record keeps these figures)."""
    mean, scale, w, b = fit
    return ((x - mean) / scale) @ w + b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--encoder", default="gemma")
    parser.add_argument("--layer", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--structured", type=int, default=500)
    parser.add_argument("--acts", type=int, default=1200)
    parser.add_argument("--l2", type=float, default=100.0)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--features-cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    keys, y, acts = gate_rows(args.seed, args.episodes, args.structured, args.acts)
    print(f"{len(keys)} chunks, {int(y.sum())} reports", flush=True)
    states, model, digest = token_states(args.encoder, keys, args.layer, args.batch_size,
                                         args.features_cache)
    x = np.stack([states[k][-1] for k in keys]).astype(np.float64)
    held: dict[str, Any] = {}
    for act in sorted(ACTS):
        train = np.array([a != act for a in acts])
        fit = fit_gate(x[train], y[train], args.l2)
        logit = gate_logits(x[~train], fit)
        reports_kept = gate_logits(x[train & y], fit)
        held[act] = {"chunks": int((~train).sum()),
                     "passed_as_reports": round(float((logit >= args.threshold).mean()), 3),
                     "reports_stopped_in_training": round(float(
                         (reports_kept < args.threshold).mean()), 4)}
        print(act, held[act], flush=True)
    mean, scale, w, b = fit = fit_gate(x, y, args.l2)
    logit = gate_logits(x, fit)
    record = {"data": {"seed": args.seed, "episodes": args.episodes,
                       "structured": args.structured, "acts": args.acts, "chunks": len(keys),
                       "reports": int(y.sum())},
              "encoder": {"name": args.encoder, "model": model, "digest": digest},
              "layer": args.layer, "l2": args.l2, "prefix_chunks": 1,
              "train": {"reports_stopped": round(float((logit[y] < args.threshold).mean()), 4),
                        "others_passed": round(float((logit[~y] >= args.threshold).mean()), 4)},
              "leave_one_act_out": held,
              "seconds": round(time.perf_counter() - started, 1)}
    gate = ReportGate(args.encoder, args.layer, mean, scale, w, b, args.threshold,
                      settings=json.dumps(record, sort_keys=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    gate.save(args.out)
    print(json.dumps({"out": str(args.out), "fingerprint": gate.fingerprint, **record}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
