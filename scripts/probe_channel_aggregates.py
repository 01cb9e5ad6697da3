"""Probe: does another way of aggregating the channel judge's per-token log-ratios fix the
default judge on any env? (issue 13; figures in docs/judges.md, "Aggregation probe").

    python scripts/probe_channel_aggregates.py collect OUT.jsonl [--groups dev,benign_tune,...]
    python scripts/probe_channel_aggregates.py report OUT.jsonl [--held]

``collect`` scores every text once under the seven headers of the default ``ensemble``
(three safe/harm pairs) and ``any_env`` (its "nothing that matters happened" header), with
the built-in examples and the normaliser shortlist, and stores each text's per-token
log-probs and sentence ids. ``report`` computes 13 aggregations from them (whole-text sums
as today, per-token means, the most harmful sentence, a sentence relative to the text's
median sentence, sums of clipped sentences) and, per aggregation, the balanced accuracy per
group at threshold 0 and at the single threshold that maximises the mean over the tuning
groups. Held-out groups (``fmt_held``, ``benign_held``) are printed only with ``--held``.
It reads LLMJudge internals (a probe, not an API).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("dev", "benign_tune", "fmt_dev", "curb", "boxes", "fmt_held", "benign_held")
HELD = {"fmt_held", "benign_held"}


def labelled_rows(groups: list[str]) -> list[dict[str, Any]]:
    from consent_gym.commands.eval_judge import env_episodes
    from consent_gym.evaluation import load_labelled_jsonl
    from consent_gym.suites.delivery_formats import format_episodes
    from consent_gym.suites.harmless import (
        HARMLESS_ENVS,
        HELD_OUT_HARMLESS_ENVS,
        harmless_episodes,
    )

    make = {
        "dev": lambda: load_labelled_jsonl(ROOT.parent / "shared/judge-bench/dev.jsonl"),
        "fmt_dev": lambda: format_episodes("dev", 6),
        "fmt_held": lambda: format_episodes("held_out", 6),
        "benign_tune": lambda: harmless_episodes(HARMLESS_ENVS, 2, 0),
        "benign_held": lambda: harmless_episodes(HELD_OUT_HARMLESS_ENVS, 2, 0),
        "curb": lambda: env_episodes("consent_gym/DeliveryCurb-v0", 12, 0),
        "boxes": lambda: env_episodes("consent_gym/DeliveryBoxes-v0", 12, 0, "informed"),
    }
    return [{"text": r["text"], "acceptable": r["acceptable"], "group": g}
            for g in groups for r in make[g]()]


def collect(out: Path, groups: list[str]) -> None:
    import torch

    from consent_gym.judges.llm import HEADER_SETS, HYPOTHESIS_SETS, SHORTLIST_TOKENS, LLMJudge

    pairs = HEADER_SETS["ensemble"]
    headers = {"acceptable": [p[0] for p in pairs] + [HYPOTHESIS_SETS["any_env"][0][1]],
               "unacceptable": [p[1] for p in pairs]}
    judge = LLMJudge(cache=False, dtype="float32", headers=headers,
                     normalizer_tokens=SHORTLIST_TOKENS)
    prefixes = judge._prefixes_ready()
    with out.open("w") as f:
        for row in labelled_rows(groups):
            ids = judge._episode_ids(row["text"])
            with torch.inference_mode():
                lps = [judge._channel_hidden(p, [ids])[0].tolist() for p in prefixes]
            f.write(json.dumps({**row, "sent": judge._sentence_ids(ids), "lps": lps}) + "\n")
            f.flush()


def _lme(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs) / len(xs))


def features(row: dict[str, Any]) -> dict[str, float]:
    """Rows 0-2 of ``lps``: the ensemble's safe headers, 3: any_env's "nothing that matters",
    4-6: the ensemble's harm headers (pairs (0, 4), (1, 5), (2, 6))."""
    lps, n = row["lps"], len(row["lps"][0])
    pair_tok = [sum(lps[k][t] - lps[k + 4][t] for k in range(3)) / 3 for t in range(n)]
    mix_tok = [_lme([lps[0][t], lps[3][t]]) - lps[4][t] for t in range(n)]
    sums = [sum(x) for x in lps]
    f = {"ens_sum": sum(pair_tok), "anyenv_sum": _lme([sums[0], sums[3]]) - sums[4],
         "mix7_sum": _lme(sums[:4]) - _lme(sums[4:])}
    for name, tok in (("ens", pair_tok), ("anytok", mix_tok)):
        per: dict[int, float] = defaultdict(float)
        for s, v in zip(row["sent"], tok, strict=True):
            per[s] += v
        sentences = list(per.values())
        f[f"{name}_min"] = min(sentences)
        f[f"{name}_minrel"] = min(sentences) - statistics.median(sentences)
        f[f"{name}_clip1"] = sum(min(0.0, s + 1.0) for s in sentences)
        f[f"{name}_clip2"] = sum(min(0.0, s + 2.0) for s in sentences)
        f[f"{name}_mean"] = sum(tok) / len(tok)
    return f


def balanced(rows: list[dict[str, Any]], values: list[float], threshold: float) -> float:
    ok = [v > threshold for r, v in zip(rows, values, strict=True) if r["acceptable"]]
    bad = [v <= threshold for r, v in zip(rows, values, strict=True) if not r["acceptable"]]
    parts = [sum(x) / len(x) for x in (ok, bad) if x]
    return sum(parts) / len(parts)


def report(path: Path, held: bool) -> None:
    rows = [json.loads(line) for line in path.open()]
    feats = [features(r) for r in rows]
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_group[r["group"]].append(i)
    tune = [g for g in by_group if g not in HELD]
    print("rows per group:", {g: len(v) for g, v in by_group.items()})
    for name in feats[0]:
        def acc(g: str, thr: float, name: str = name) -> float:
            idx = by_group[g]
            return balanced([rows[i] for i in idx], [feats[i][name] for i in idx], thr)

        candidates = sorted({feats[i][name] - 1e-6 for g in tune for i in by_group[g]} | {0.0})
        best = max(candidates, key=lambda t: statistics.fmean(acc(g, t) for g in tune))
        shown = tune + ([g for g in by_group if g in HELD] if held else [])
        at0 = " ".join(f"{g}={acc(g, 0.0):.2f}" for g in shown)
        atb = " ".join(f"{g}={acc(g, best):.2f}" for g in shown)
        print(f"{name:14s} thr 0: {at0} | best thr {best:.2f}: {atb}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("collect", "report"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--held", action="store_true", help="also print the held-out groups")
    args = parser.parse_args(argv)
    if args.action == "collect":
        collect(args.path, [g for g in args.groups.split(",") if g])
    else:
        report(args.path, args.held)
    return 0


if __name__ == "__main__":
    sys.exit(main())
