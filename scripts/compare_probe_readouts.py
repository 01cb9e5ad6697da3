"""Score several probe readouts side by side on the tuning sets (or, once, the held-out ones).

    python scripts/compare_probe_readouts.py /tmp/fits/a.npz /tmp/fits/b.npz --texts /tmp/texts
    python scripts/compare_probe_readouts.py consent_gym/judges/data/probe_gemma.npz --held-out

Every readout is applied to the same texts, cut by the judge's own chunker and embedded once
(chunk features are kept in ``--texts``), so comparing fits costs one encoder pass. The
texts are collected once and kept in ``--texts`` as JSON:

- tuning: judge-bench dev, the format suite's dev split (8 per format), the harmless tuning
  envs (5 episodes per env and policy), ``measure_renderers.py``'s 11 harmless envs (20
  episodes each, half careful, half random, up to 300 steps), DeliveryCurb (60) and
  DeliveryBoxes with informed perception (60), highway-fast-v0 (20, half careful, half
  random; crash = harmful);
- the format suite's first fourteen held-out splits (8 per format) and the first list of
  held-out harmless envs, each read for a decision and a tuning set since;
- held out (``--held-out``): the format suite's fifteenth held-out split (8 per format),
  the second list of held-out harmless envs (a guard: read nine times, never tuned on), and
  intersection-v0 and roundabout-v0.

With ``--gate G`` every window readout is scored without a report gate and then with gate
``G`` at each of ``--gate-thresholds`` (``scripts/fit_report_gate.py``), which caps a chunk
only where it reads it as not a report both in context and alone, as the judge does. With
``--read-alone`` a prefix readout is also scored as ``ProbeJudge(read_alone=True)`` reads:
each chunk at the higher of its logit in context and alone. Each line also gives the
mean balanced accuracy over the tuning format splits and the harmful episodes they
approve.

Choose among fits on the tuning figures only; print the held-out ones for the chosen fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.judges.probe import ChunkEncoder, ProbeReadout, prefixed_chunks, split_chunks
from consent_gym.judges.report_gate import ReportGate
from consent_gym.judges.scoring import escape_episode

DEV = Path(__file__).resolve().parents[2] / "shared" / "judge-bench" / "dev.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # measure_renderers, fit_probe_judge


def _rows(name: str) -> list[dict[str, Any]]:
    """Labelled rows ``{"text", "acceptable", "tag"}`` of one named set."""
    if name == "judge-bench dev":
        from consent_gym.evaluation import load_labelled_jsonl

        return load_labelled_jsonl(DEV)
    if name.startswith("formats "):
        from consent_gym.suites.delivery_formats import format_episodes

        return format_episodes(name.split()[1], 8)
    if name.startswith("harmless "):
        from consent_gym.suites.harmless import ENV_GROUPS, harmless_episodes

        envs = ENV_GROUPS[name.split()[1]]
        return [{**r, "tag": r.get("env", r.get("tag"))} for r in harmless_episodes(envs, 5, 0)]
    from measure_renderers import collect  # (imports highway-env) only for the sets it makes

    if name == "renderer harmless envs":
        from measure_renderers import HARMLESS_ENVS as RENDERER_ENVS

        return [{"text": r["text"], "acceptable": True, "tag": env_id}
                for env_id, _ in RENDERER_ENVS for r in collect(env_id, 20, 0, None)]
    if name.startswith("consent_gym/"):
        from consent_gym.commands.eval_judge import env_episodes

        env_id, _, perception = name.partition(" ")
        return env_episodes(env_id, 60, 0, perception or "default")
    return [{"text": r["text"], "acceptable": not r["harm"], "tag": r["policy"]}
            for r in collect(name, 20, 0, "crashed")]


# The format suite's first fifteen held-out splits and the first held-out env list were each
# read once (the fifteenth as a last measurement of the default, for no decision), then
# became tuning sets. The second env list has been read nine
# times as a guard (by two candidates of the fifth refit, twice by the sixth, three times
# for the wrapped-prose chunker: old rule, new rule, tightened rule; once for the report
# gate, once for the gate that reads each chunk alone too) and is kept as one.
TUNING = ("judge-bench dev", "formats dev", "formats held_out", "formats held_out_2",
          "formats held_out_3", "formats held_out_4", "formats held_out_5", "formats held_out_6",
          "formats held_out_7", "formats held_out_8", "formats held_out_9",
          "formats held_out_10", "formats held_out_11", "formats held_out_12",
          "formats held_out_13", "formats held_out_14", "formats held_out_15", "harmless tuning",
          "harmless held-out",
          "renderer harmless envs",
          "consent_gym/DeliveryCurb-v0", "consent_gym/DeliveryBoxes-v0 informed",
          "highway-fast-v0")
HELD_OUT = ("formats held_out_16", "harmless held-out-2", "intersection-v0", "roundabout-v0")


def _score(readout: ProbeReadout, feats: dict[Any, np.ndarray], rows: list[dict[str, Any]],
           errors: list[str] | None = None, name: str = "", gate: ReportGate | None = None,
           read_alone: bool = False) -> dict[str, Any]:
    """Counts on ``rows``; ``feats`` are pooled features per chunk, or token states per
    (prefix, chunk) for a window readout (a ``gate`` caps the logit of every chunk it reads
    as not a report at ``NOT_REPORTED``; ``read_alone`` raises each chunk to its logit read
    alone, ``feats[("", chunk)]``; both as the judge does)."""
    approved = []
    for row in rows:
        keys = prefixed_chunks(row["text"], readout.prefix_chunks)
        chunks = [c for _, c in keys]
        logits = (np.array([readout.span_logit(feats[k]) for k in keys]) if readout.window
                  else readout.logits(np.stack([feats[c] for c in chunks])))
        if read_alone:
            logits = np.maximum(logits, [readout.span_logit(feats[("", c)]) for c in chunks])
        if gate is not None:  # feats also holds ("", chunk) for every chunk it must confirm
            last = np.stack([feats[k][-1] for k in keys])
            alone = [feats[("", keys[i][1])][-1] for i in gate.to_confirm(logits, last)]
            logits = gate.cap(logits, last, np.stack(alone) if alone else last[:0])
        approved.append(bool(logits.max() < readout.threshold))
        if errors is not None and approved[-1] != bool(row["acceptable"]):
            errors.append(f"  {'approved harm' if approved[-1] else 'vetoed'} "
                          f"[{name}: {row.get('tag')}] {logits.max() - readout.threshold:+.2f} "
                          f"{chunks[int(logits.argmax())][:150]!r}")
    ok = np.array([bool(r["acceptable"]) for r in rows])
    app = np.array(approved)
    out: dict[str, Any] = {"n": len(rows)}
    if ok.any():
        out["false_veto"] = int((~app[ok]).sum())
    if (~ok).any():
        out["harm_approved"] = int(app[~ok].sum())
        out["harmful"] = int((~ok).sum())
    if ok.any() and (~ok).any():
        out["balanced"] = round(float(0.5 * (app[ok].mean() + (~app[~ok]).mean())), 3)
    tags = sorted({str(r.get("tag")) for r in rows})
    worst = {t: int(sum(not a for a, r, k in zip(app, rows, ok, strict=True)
                        if str(r.get("tag")) == t and k)) for t in tags}
    if ok.all():
        out["max_env_false_veto"] = max(worst.values())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("readouts", nargs="+", type=Path)
    parser.add_argument("--texts", type=Path, default=Path("/tmp/probe_texts"))
    parser.add_argument("--held-out", action="store_true", help="also score the held-out sets")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gate", type=Path, default=None,
                        help="a report gate (scripts/fit_report_gate.py): every window "
                             "readout is scored without it, then with it at each of "
                             "--gate-thresholds")
    parser.add_argument("--gate-thresholds", default="",
                        help="comma-separated gate thresholds (default: the gate's own)")
    parser.add_argument("--read-alone", action="store_true",
                        help="also score every prefix readout as ProbeJudge(read_alone=True) "
                             "does (each chunk at least its logit read alone)")
    parser.add_argument("--show-errors", action="store_true",
                        help="print each misjudged episode's worst chunk and its margin")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    args.texts.mkdir(parents=True, exist_ok=True)
    names = TUNING + (HELD_OUT if args.held_out else ())
    sets = {}
    for name in names:
        path = args.texts / (name.replace("/", "_").replace(" ", "_") + ".json")
        if not path.is_file():
            path.write_text(json.dumps(_rows(name)))
        sets[name] = json.loads(path.read_text())
    readouts = [ProbeReadout.load(p) for p in args.readouts]
    chunks = sorted({c for rows in sets.values() for r in rows
                     for c in split_chunks(escape_episode(r["text"]))})
    layers = sorted({4, 6, 8} | {r.layer for r in readouts})  # every layer for every chunk
    cache = args.texts / "features.npz"
    known: dict[str, dict[int, np.ndarray]] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            stored = json.loads(str(data["chunks"]))
            for layer in layers:
                if f"mean_{layer}" in data:
                    for c, v in zip(stored, data[f"mean_{layer}"], strict=True):
                        known.setdefault(c, {})[layer] = v
    missing = [c for c in chunks if any(la not in known.get(c, {}) for la in layers)]
    if missing and not all(r.window for r in readouts):  # window readouts read token states
        encoder = ChunkEncoder(readouts[0].encoder)
        pooled = encoder.pooled(missing, layers)
        for layer in layers:
            for c, v in zip(missing, pooled[(layer, "mean")], strict=True):
                known.setdefault(c, {})[layer] = v
        every = sorted(known)
        np.savez(cache, chunks=np.array(json.dumps(every)), **{
            f"mean_{la}": np.stack([known[c][la] for c in every]) for la in layers})
    for path, readout in zip(args.readouts, readouts, strict=True):
        if readout.pooling != "mean":
            raise SystemExit(f"{path}: only mean-pooled readouts are compared here.")
        feats: dict[Any, np.ndarray] = {}
        if not readout.window:
            feats = {c: known[c][readout.layer] for c in chunks}
        else:
            from fit_probe_judge import token_states

            keys = sorted({k for rows in sets.values() for r in rows
                           for k in prefixed_chunks(r["text"], readout.prefix_chunks)})
            feats = dict(token_states(readout.encoder, keys, readout.layer, 32, args.texts)[0])
        readings: list[tuple[ReportGate | None, bool]] = [(None, False)]
        if args.read_alone and readout.window and readout.prefix_chunks:
            alone = sorted({("", c) for _, c in keys} - set(feats))
            feats.update(token_states(readout.encoder, alone, readout.layer, 32, args.texts)[0])
            readings.append((None, True))
        if args.gate is not None and readout.window:
            fitted = ReportGate.load(args.gate)
            tried = [fitted.with_threshold(float(t)) for t in args.gate_thresholds.split(",")
                     ] if args.gate_thresholds else [fitted]
            readings += [(g, False) for g in tried]
            # the loosest gate confirms a superset of the chunks the others confirm alone
            loosest = max(tried, key=lambda g: g.threshold)
            confirm = set()
            for rows in sets.values():
                for r in rows:
                    ks = prefixed_chunks(r["text"], readout.prefix_chunks)
                    todo = loosest.to_confirm(np.array([readout.span_logit(feats[k]) for k in ks]),
                                              np.stack([feats[k][-1] for k in ks]))
                    confirm |= {("", ks[i][1]) for i in todo} - set(feats)
            feats.update(token_states(readout.encoder, sorted(confirm), readout.layer, 32,
                                      args.texts)[0])
        for gate, read_alone in readings:
            line: dict[str, Any] = {"readout": str(path),
                                    "fingerprint": readout.fingerprint[:12]}
            if gate is not None:
                line["gate"] = {"path": str(args.gate), "threshold": gate.threshold}
            if read_alone:
                line["read_alone"] = True
            errors: list[str] | None = [] if args.show_errors else None
            for name in names:
                line[name] = _score(readout, feats, sets[name], errors, name, gate,
                                    read_alone)
            if "formats held_out" in sets:
                from consent_gym.suites.delivery_formats import HELD_OUT_ONLY_FORMATS

                only = [r for r in sets["formats held_out"] if r["tag"] in HELD_OUT_ONLY_FORMATS]
                line["held-out-only formats"] = _score(readout, feats, only, gate=gate,
                                                       read_alone=read_alone)
            formats = [line[n]["balanced"] for n in names if n in TUNING and n.startswith(
                "formats ")]
            line["mean over the tuning format splits"] = round(float(np.mean(formats)), 4)
            line["harm approved on the tuning format splits"] = sum(
                line[n].get("harm_approved", 0) for n in names
                if n in TUNING and n.startswith("formats "))
            print(json.dumps(line), flush=True)
            if errors:
                print("\n".join(errors), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
