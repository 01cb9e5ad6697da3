"""Judge level of Train on Prediction: the original LLM judge vs predict-then-judge.

    python scripts/measure_prediction_judge.py --corpus runs/corpus --predictor runs/predictor \\
        --k 8 --per-category 12 --threads 2 --out runs/prediction-judge.json

Reads the corpus's held-out split (seeds never trained on), groups its episodes by ground
truth, takes the first ``--per-category`` distinct *surface* texts of each group (what the
original judge reads: "the car hit a box", never what was inside), and judges them with

- each original judge of ``--inner``: ``llm`` (:class:`~consent_gym.judges.LLMJudge`,
  ``--headers``; default: its defaults) and/or ``probe`` (the default judge,
  :func:`~consent_gym.judges.default_judge`),
- and for each, :class:`~consent_gym.judges.PredictThenJudge`: the prediction-trained copy
  continuing each surface text ``--k`` times and that original judge reading each expanded
  text (``--veto-when``). The continuations are sampled once per text and shared by the
  arms (the same seeds would write the same ones);
- ``copy-llm`` (``--direct``): the prediction-trained copy itself as an
  :class:`~consent_gym.judges.LLMJudge` (same ``--headers``) reading the surface text.

Counts are per episode (episodes with the same surface text share its verdict). Groups:
``person_box`` (a box with a person inside hit, no pedestrian), ``person_box_and_pedestrian``,
``empty_box_only`` (only empty boxes hit: the surface text is the same as ``person_box``'s, so
no judge of the surface text can tell them apart), ``pedestrian_only`` and ``harmless`` (no
pedestrian, no box). Results go to ``--out`` after each group, so a run cut short keeps
what it measured.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from consent_gym.judges import (
    ContinuationSampler,
    LLMJudge,
    PredictThenJudge,
    default_judge,
    judge_texts,
)
from consent_gym.prediction.corpus import EXPLORER, OUTCOME_GROUPS, outcome_group, read_corpus

CATEGORIES = OUTCOME_GROUPS


class SharedContinuations:
    """The sampler's continuations, written once per (text, seeds) and shared by the arms."""

    def __init__(self, sampler: ContinuationSampler) -> None:
        self.sampler = sampler
        self.sampler_id = sampler.sampler_id
        self.written: dict[tuple[str, tuple[int, ...]], list[str]] = {}
        self.seconds = 0.0

    def continue_text(self, text: str, seeds: Any) -> list[str]:
        key = (text, tuple(seeds))
        if key not in self.written:
            t0 = time.perf_counter()
            self.written[key] = self.sampler.continue_text(text, seeds)
            self.seconds += time.perf_counter() - t0
        return list(self.written[key])

    def verify_frozen(self, full: bool = True) -> None:
        self.sampler.verify_frozen(full=full)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, required=True, help="folder with heldout.jsonl")
    parser.add_argument("--predictor", type=Path, required=True,
                        help="the prediction-trained checkpoint (consent-gym predict-train)")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--veto-when", default="any")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--prompt-prefix", default=f"This episode was explored by {EXPLORER}. ",
                        help="put before each surface text the copy continues (the label its "
                             "training texts began with; '' for none)")
    parser.add_argument("--original", type=Path, default=None,
                        help="the original judge's model folder (default: the embedded Gemma)")
    parser.add_argument("--headers", default=None, help="LLMJudge headers (default: its own)")
    parser.add_argument("--per-category", type=int, default=12,
                        help="distinct surface texts per group")
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES)
    parser.add_argument("--inner", nargs="+", default=["llm", "probe"], choices=("llm", "probe"))
    parser.add_argument("--direct", action="store_true",
                        help="also judge with the copy as an LLMJudge on the surface text")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    veto_when: str | float = args.veto_when if args.veto_when == "any" else float(args.veto_when)

    rows = read_corpus(args.corpus / "heldout.jsonl", split="heldout")
    started = time.perf_counter()
    sampler = SharedContinuations(ContinuationSampler(
        str(args.predictor), max_new_tokens=args.max_new_tokens, temperature=args.temperature,
        prompt_prefix=args.prompt_prefix))
    arms: list[tuple[str, Any]] = []
    for inner in args.inner:
        if inner == "llm":
            original: Any = LLMJudge(None if args.original is None else str(args.original),
                                     headers=args.headers, num_threads=args.threads)
        else:
            original = default_judge()
        arms.append((inner, original))
        arms.append((f"predict+{inner}",
                     PredictThenJudge(sampler, original, k=args.k, veto_when=veto_when)))
    if args.direct:
        arms.append(("copy-llm", LLMJudge(str(args.predictor), headers=args.headers,
                                          num_threads=args.threads)))
    results: dict[str, Any] = {
        "command": "python scripts/measure_prediction_judge.py " + " ".join(argv or []),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "judges": {name: judge.judge_id for name, judge in arms},
        "sampler": sampler.sampler_id, "load_seconds": 0.0, "groups": {},
    }
    results["load_seconds"] = round(time.perf_counter() - started, 1)
    print(f"loaded in {results['load_seconds']} s: {results['judges']}", flush=True)
    for group in args.categories:
        members = [r for r in rows if outcome_group(r) == group]
        texts = list(dict.fromkeys(r["surface_text"] for r in members))[: args.per_category]
        episodes = [r for r in members if r["surface_text"] in set(texts)]
        entry: dict[str, Any] = {"distinct_texts": len(texts), "episodes": len(episodes),
                                 "episodes_in_heldout": len(members)}
        for name, judge in arms:
            t0 = time.perf_counter()
            verdicts = dict(zip(texts, judge_texts(judge, texts), strict=True))
            counts = {"approved": 0, "vetoed": 0, "failed": 0}
            for row in episodes:
                counts[verdicts[row["surface_text"]].outcome] += 1
            entry[name] = {**counts, "seconds": round(time.perf_counter() - t0, 1)}
            if name.startswith("predict") and "examples" not in entry:
                entry["examples"] = [{"text": t, "outcome": verdicts[t].outcome,
                                      "reason": verdicts[t].reason} for t in texts[:2]]
                said = [sampler.continue_text(t, judge.seeds) for t in texts]
                entry["continuations"] = sum(len(c) for c in said)
                entry["continuations_ending_at_once"] = sum(not x.strip() for c in said
                                                            for x in c)
                # A diagnostic of what the copy learned, not part of any judge.
                entry["continuations_naming_a_person"] = sum("person" in x for c in said
                                                             for x in c)
            print(f"{group:27s} {name:13s} episodes {len(episodes):3d} (texts {len(texts):2d}): "
                  f"{counts['vetoed']:3d} vetoed {counts['approved']:3d} approved "
                  f"{counts['failed']:2d} failed  {entry[name]['seconds']:6.1f} s", flush=True)
        results["groups"][group] = entry
        results["wall_seconds"] = round(time.perf_counter() - started, 1)
        results["sampling_seconds"] = round(sampler.seconds, 1)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
