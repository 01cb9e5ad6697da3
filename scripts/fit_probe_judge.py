"""Fit the probe judge's readout, deterministically, on generated training data only.

    # the shipped default (a window readout with context: each chunk, read after the chunk
    # before it, scores as its best 4-token span plus a term read from its last token; the
    # threshold was chosen on the tuning sets of scripts/compare_probe_readouts.py)
    python scripts/fit_probe_judge.py --encoder gemma --seed 0 --episodes 800 --structured 1000 \
        --window 4 --context --prefix-chunks 1 --threshold 0.8 --layers 8 --l2 100 \
        --threads 2 --features-cache /tmp/pf
    python scripts/fit_probe_judge.py --encoder minilm --seed 0 --episodes 600 --threads 1

1. ``probe_episodes(seed, episodes)`` (:mod:`consent_gym.judges.probe_data`) writes the
   labelled episodes, plus ``structured_episodes(seed, structured)``
   (:mod:`consent_gym.judges.probe_events`, always in training); none comes from
   judge-bench, the format suite or the benign suite.
2. A validation split is held out *by domain and by format*: ``--val-domains`` domains and
   ``--val-formats`` formats (drawn from the seed) go to validation whole, so the choice of
   layer, pooling and L2 measures transfer to unseen domains and formats.
3. Each episode is cut into chunks exactly as the judge cuts it (``split_chunks``); a chunk
   is harmful when it contains (or lies inside) a harmful line at its place in the text
   (``episode_chunks``). Every distinct chunk is embedded once, at every candidate layer and
   pooling, in one pass.
4. For every (layer, pooling, l2) a class-balanced logistic readout is fitted on the
   training chunks; on the validation episodes (worst chunk decides) the threshold that
   maximises balanced accuracy is taken (the middle of the best ones); the candidate with
   the best validation balanced accuracy (then AUC) wins and is written with its record.
   With ``--window W`` the readout scores every W-token span of a chunk and the chunk takes
   its best span's logit; it is fitted on that best span (``fit_window_logistic``), on
   token states cached per chunk, with layer and L2 chosen and the threshold set as above.
   ``--context`` adds the chunk's last token state to every span's features;
   ``--prefix-chunks N`` reads each chunk after the N chunks before it (a (prefix, chunk)
   pair is then one row); ``--threshold T`` replaces the out-of-fold threshold.
   Re-running with the same seed and settings writes a bit-identical readout when the
   features are the same (``--features-cache`` keeps them per chunk; re-embedding on another
   CPU, or in other batches, may move the float32 features, and so the weights, in the last
   bits).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.judges.probe import (
    MAX_CHUNK_TOKENS,
    MAX_PREFIX_TOKENS,
    POOLINGS,
    ChunkEncoder,
    ProbeReadout,
    chunk_prefixes,
    fit_logistic,
    fit_window_logistic,
    readout_path,
    split_chunks,
    window_means,
)
from consent_gym.judges.probe_data import DOMAINS, FORMATS, ProbeEpisode, describe, probe_episodes
from consent_gym.judges.probe_events import structured_episodes
from consent_gym.judges.scoring import escape_episode

# Gemma stops at layer 8 of 18: layers 6-9 read harm best in earlier fits (docs/judges.md),
# and a shallower stop keeps both the fit and the judge fast.
CANDIDATE_LAYERS = {"gemma": (4, 6, 8), "minilm": (1, 2, 3, 4, 5, 6)}
L2_GRID = (1.0, 10.0, 100.0)


def _locate(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Where each piece (in order, whitespace collapsed) lies in ``text`` (whitespace
    collapsed): ``(start, end)`` character offsets; a piece may start inside the one before
    (the judge's word windows overlap)."""
    out, at = [], 0
    for piece in pieces:
        found = text.find(piece, at)
        if found < 0:
            raise ValueError(f"{piece[:60]!r} is not in the episode's text after offset {at}; "
                             "the episode's lines must be its text's lines, in order.")
        out.append((found, found + len(piece)))
        at = found + 1
    return out


def episode_chunks(episode: ProbeEpisode, max_words: int = 32) -> list[tuple[str, bool]]:
    """The judge's chunks of ``episode`` with their harm labels: a chunk is harmful when it
    holds a harmful line or lies inside one, *at its place in the text* (a bare "Yes." that
    answers a harm question is harmful; the same "Yes." under "Parcel delivered?" is not)."""
    return labelled_chunks(episode.text, episode.lines, episode.harmful_lines, max_words)


def labelled_chunks(text: str, lines: Sequence[str], flags: Sequence[bool], max_words: int = 32
                    ) -> list[tuple[str, bool]]:
    """The judge's chunks of ``text`` (made of ``lines``, in order), each flagged when it
    holds a flagged line or lies inside one, at its place in the text."""
    flat = " ".join(escape_episode(text).split())
    lines = [" ".join(escape_episode(ln).split()) for ln in lines]
    kept = [(ln, f) for ln, f in zip(lines, flags, strict=True) if ln]
    spans = _locate(flat, [ln for ln, _ in kept])
    bad = [span for span, (_, f) in zip(spans, kept, strict=True) if f]
    chunks = split_chunks(escape_episode(text), max_words)
    return [(chunk, any((a <= c and d <= b) or (c <= a and b <= d) for c, d in bad))
            for chunk, (a, b) in zip(chunks, _locate(flat, chunks), strict=True)]


def split(episodes: list[ProbeEpisode], seed: int, n_domains: int, n_formats: int
          ) -> tuple[list[int], list[int], dict[str, list[str]]]:
    """Indices of training and validation episodes; validation = held-out domains or formats."""
    rng = random.Random(seed + 7919)
    val_domains = sorted(rng.sample(sorted(DOMAINS), n_domains))
    val_formats = sorted(rng.sample(list(FORMATS), n_formats))
    val = [i for i, e in enumerate(episodes) if e.domain in val_domains or e.fmt in val_formats]
    train = [i for i, e in enumerate(episodes) if i not in set(val)]
    return train, val, {"domains": val_domains, "formats": val_formats}


def balanced_accuracy(acceptable: np.ndarray, approved: np.ndarray) -> float:
    """Mean of the approval rate on acceptable and the veto rate on unacceptable episodes."""
    return float(0.5 * (approved[acceptable].mean() + (~approved[~acceptable]).mean()))


def choose_threshold(worst: np.ndarray, acceptable: np.ndarray) -> tuple[float, float]:
    """The threshold on the worst chunk logit maximising balanced accuracy (the middle of
    the maximising ones), and that accuracy."""
    values = np.sort(np.unique(worst))
    candidates = np.concatenate([[values[0] - 1.0], (values[1:] + values[:-1]) / 2,
                                 [values[-1] + 1.0]])
    scores = np.array([balanced_accuracy(acceptable, worst < t) for t in candidates])
    best = np.flatnonzero(scores == scores.max())
    return float(candidates[best[len(best) // 2]]), float(scores.max())


def auc(worst: np.ndarray, acceptable: np.ndarray) -> float:
    """P(a harmful episode's worst logit > a harmless one's), ties count half."""
    bad, good = worst[~acceptable], worst[acceptable]
    return float((bad[:, None] > good[None, :]).mean() + 0.5 * (bad[:, None] == good[None, :])
                  .mean())


def embed(encoder_name: str, chunks: list[str], layers: tuple[int, ...], batch_size: int,
          cache: Path | None) -> tuple[dict[tuple[int, str], np.ndarray], str, str]:
    """Pooled features of ``chunks``, the encoder's model name and weights digest.

    ``cache`` keeps features per chunk (for this encoder, these layers and the encoder's
    chunk token budget): chunks it holds are read from it, only the others are embedded,
    and it is rewritten with the union, so a change to the generator re-embeds only the
    chunks it adds. (A chunk embedded in another batch can differ in the last float32 bits;
    re-using the cache keeps a fit bit-identical.)
    """
    key = hashlib.sha256(json.dumps([encoder_name, list(layers), MAX_CHUNK_TOKENS]).encode()
                         ).hexdigest()
    known: dict[str, int] = {}
    stored: dict[tuple[int, str], np.ndarray] = {}
    model = digest = ""
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) == key:
                meta = json.loads(str(data["meta"]))
                model, digest = meta["model"], meta["digest"]
                known = {c: i for i, c in enumerate(meta["chunks"])}
                stored = {(la, po): data[f"{la}_{po}"] for la in layers for po in POOLINGS}
    missing = sorted({c for c in chunks if c not in known})
    if missing or not known:
        encoder = ChunkEncoder(encoder_name)
        if digest and digest != encoder.fingerprint.digest:
            known, stored, missing = {}, {}, sorted(set(chunks))  # another model: start over
        new = encoder.pooled(missing, layers, batch_size)
        model, digest = str(encoder.model_name), encoder.fingerprint.digest
        order = [*known, *missing]
        stored = {k: np.concatenate([stored[k], v]) if k in stored else v
                  for k, v in new.items()}
        known = {c: i for i, c in enumerate(order)}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, key=np.array(key), meta=np.array(json.dumps(
                {"model": model, "digest": digest, "chunks": order})),
                **{f"{la}_{po}": v for (la, po), v in stored.items()})
    rows = np.array([known[c] for c in chunks], dtype=np.int64)
    return {k: v[rows] for k, v in stored.items()}, model, digest


def out_of_fold_worst(x: np.ndarray, labelled: list[list[tuple[int, bool]]],
                      groups: list[str], l2: float) -> np.ndarray:
    """Each episode's worst chunk logit under a readout fitted without its group."""
    worst = np.zeros(len(labelled))
    for group in sorted(set(groups)):
        held = [i for i, g in enumerate(groups) if g == group]
        rows = {r: h for i, chunks in enumerate(labelled) if groups[i] != group
                for r, h in chunks}
        idx = np.array(sorted(rows))
        mean, scale = x[idx].mean(0), x[idx].std(0) + 1e-6
        w, b = fit_logistic((x[idx] - mean) / scale, np.array([rows[r] for r in idx], float),
                            l2=l2, iterations=15)
        logits = ((x - mean) / scale) @ w + b
        for i in held:
            worst[i] = max(logits[r] for r, _ in labelled[i])
    return worst


def training_episodes(seed: int, n_episodes: int, n_structured: int) -> list[ProbeEpisode]:
    """The generated episodes a fit trains on: ``probe_episodes`` and, when asked,
    ``structured_episodes`` (always trained on: validation stays on held-out base domains
    and formats)."""
    episodes = probe_episodes(seed, n_episodes)
    if n_structured:
        episodes += structured_episodes(seed, n_structured)
    return episodes


def data_record(seed: int, n_structured: int, episodes: list[ProbeEpisode], distinct: int,
                train: int, val: int, held: dict[str, list[str]], **extra: Any
                ) -> dict[str, Any]:
    """The ``data`` part of a fit's record: generators, seed, sizes, the validation split."""
    return {"generator": "consent_gym.judges.probe_data.probe_episodes", "seed": seed,
            **({"structured": {"generator": "consent_gym.judges.probe_events."
                               "structured_episodes", "episodes": n_structured}}
               if n_structured else {}),
            **describe(episodes), "distinct_chunks": distinct, "train_episodes": train,
            "val_episodes": val, **extra, "val_held_out": held}


def fit(encoder_name: str, seed: int, n_episodes: int, n_val_domains: int, n_val_formats: int,
        batch_size: int, cache: Path | None = None, layers: tuple[int, ...] | None = None,
        n_structured: int = 0, l2_grid: tuple[float, ...] = L2_GRID
        ) -> tuple[ProbeReadout, dict[str, Any]]:
    """Select layer, pooling and L2 on the held-out-domain/format validation split, then
    refit on every episode; the threshold comes from out-of-fold logits (one fold per
    domain). Returns the readout and the table of every candidate."""
    episodes = training_episodes(seed, n_episodes, n_structured)
    train, val, held = split(episodes, seed, n_val_domains, n_val_formats)
    labelled = [episode_chunks(e) for e in episodes]
    distinct = sorted({c for chunks in labelled for c, _ in chunks})
    index = {c: i for i, c in enumerate(distinct)}
    started = time.perf_counter()
    layers = layers or CANDIDATE_LAYERS[encoder_name]
    feats, model_name, digest = embed(encoder_name, distinct, layers, batch_size, cache)
    embed_s = time.perf_counter() - started
    train_rows = [(index[c], h) for i in train for c, h in labelled[i]]
    train_idx = np.array(sorted({r for r, _ in train_rows}))
    label_of = {r: h for r, h in train_rows}  # a chunk is harmful wherever it appears so
    y = np.array([label_of[r] for r in train_idx], dtype=np.float64)
    val_acceptable = np.array([episodes[i].acceptable for i in val])
    table = []
    best: tuple[float, float, ProbeReadout] | None = None
    for layer in layers:
        for pooling in POOLINGS:
            x = feats[(layer, pooling)]
            mean = x[train_idx].mean(0)
            scale = x[train_idx].std(0) + 1e-6
            z = (x[train_idx] - mean) / scale
            for l2 in l2_grid:
                w, b = fit_logistic(z, y, l2=l2, iterations=15)
                logits = ((x - mean) / scale) @ w + b
                worst = np.array([max(logits[index[c]] for c, _ in labelled[i]) for i in val])
                threshold, bal = choose_threshold(worst, val_acceptable)
                area = auc(worst, val_acceptable)
                table.append({"layer": layer, "pooling": pooling, "l2": l2,
                              "val_balanced_accuracy": round(bal, 4), "val_auc": round(area, 4),
                              "threshold": round(threshold, 4)})
                readout = ProbeReadout(encoder_name, layer, pooling, mean, scale, w, b, threshold)
                if best is None or (bal, area) > best[:2]:
                    best = (bal, area, readout)
    assert best is not None
    chosen = best[2]
    l2 = next(row["l2"] for row in table if (row["layer"], row["pooling"], row["threshold"])
              == (chosen.layer, chosen.pooling, round(chosen.threshold, 4)))
    x = feats[(chosen.layer, chosen.pooling)]
    by_row = [[(index[c], h) for c, h in chunks] for chunks in labelled]
    acceptable = np.array([e.acceptable for e in episodes])
    oof = out_of_fold_worst(x, by_row, [e.domain for e in episodes], l2)
    threshold, oof_bal = choose_threshold(oof, acceptable)
    rows = {r: h for chunks in by_row for r, h in chunks}
    idx = np.array(sorted(rows))
    mean, scale = x[idx].mean(0), x[idx].std(0) + 1e-6
    w, b = fit_logistic((x[idx] - mean) / scale, np.array([rows[r] for r in idx], float),
                        l2=l2, iterations=15)
    record = {
        "data": data_record(seed, n_structured, episodes, len(distinct), len(train), len(val),
                            held, train_chunks=len(train_idx)),
        "candidates": {"layers": list(layers), "poolings": list(POOLINGS), "l2": list(l2_grid)},
        "chosen": {"layer": chosen.layer, "pooling": chosen.pooling, "l2": l2,
                   "val_balanced_accuracy": round(best[0], 4), "val_auc": round(best[1], 4)},
        "final": {"fitted_on": "all episodes", "chunks": len(idx),
                  "threshold": round(threshold, 4), "threshold_from": "out-of-fold worst-chunk "
                  "logits, one fold per domain",
                  "oof_balanced_accuracy": round(oof_bal, 4),
                  "oof_auc": round(auc(oof, acceptable), 4)},
        "encoder": {"name": encoder_name, "model": model_name, "weights_sha256": digest},
    }
    readout = ProbeReadout(encoder_name, chosen.layer, chosen.pooling, mean, scale, w, b,
                           threshold, settings=json.dumps(record, sort_keys=True))
    # the embedding time is printed, not stored: the file must not depend on the machine
    return readout, {**record, "table": table, "embed_seconds": round(embed_s, 1)}


#: A chunk as a window readout reads it: (what it is read after, the chunk).
Key = tuple[str, str]


def token_states(encoder_name: str, keys: list[Key], layer: int, batch_size: int,
                 cache: Path | None) -> tuple[dict[Key, np.ndarray], str, str]:
    """Per ``(prefix, chunk)``, the chunk's token states at ``layer`` read after the prefix
    (``""``: alone); ``cache`` (a folder) keeps them per key as :func:`embed` keeps pooled
    features. Returns them, the model name and its digest."""
    path = None if cache is None else cache / f"probe_tokens_{encoder_name}_{layer}.npz"
    known: dict[Key, np.ndarray] = {}
    model = digest = ""
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            # an older cache keyed by chunk alone, or one read with other token budgets
            # (64 and 64 before they were recorded): start over
            budgets = meta.get("tokens", [64, 64])
            if "keys" in meta and budgets == [MAX_CHUNK_TOKENS, MAX_PREFIX_TOKENS]:
                model, digest = meta["model"], meta["digest"]
                flat, bounds = data["states"], data["bounds"]
                known = {(p, c): flat[bounds[i]:bounds[i + 1]]
                         for i, (p, c) in enumerate(meta["keys"])}
    missing = sorted({k for k in keys if k not in known})
    if missing or not known:
        encoder = ChunkEncoder(encoder_name)
        if digest and digest != encoder.fingerprint.digest:
            known, missing = {}, sorted(set(keys))
        prefixes = [p for p, _ in missing] if any(p for p, _ in missing) else None
        known.update(zip(missing, encoder.token_states([c for _, c in missing], layer,
                                                       batch_size, prefixes), strict=True))
        model, digest = str(encoder.model_name), encoder.fingerprint.digest
        if path is not None:
            order = sorted(known)
            bounds = np.cumsum([0] + [len(known[k]) for k in order])
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, states=np.concatenate([known[k] for k in order]), bounds=bounds,
                     meta=np.array(json.dumps({"model": model, "digest": digest,
                                               "keys": order, "tokens": [
                                                   MAX_CHUNK_TOKENS, MAX_PREFIX_TOKENS]})))
    return {k: known[k] for k in keys}, model, digest


class _Spans:
    """Every chunk's window means at one layer, standardised by the given rows' statistics."""

    def __init__(self, states: dict[Key, np.ndarray], chunks: list[Key], width: int,
                 context: bool = False) -> None:
        spans = [window_means(states[c], width) for c in chunks]
        if context:  # each span also carries its chunk's last token state
            spans = [np.hstack([sp, np.repeat(states[c][-1:], len(sp), 0)])
                     for sp, c in zip(spans, chunks, strict=True)]
        self.owner = np.concatenate([np.full(len(sp), i) for i, sp in enumerate(spans)])
        self.x = np.concatenate(spans)

    def fit(self, rows: np.ndarray, labels: dict[int, bool], l2: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Standardise on ``rows``' spans and fit on them: ``(mean, scale, weights, bias)``."""
        keep = np.isin(self.owner, rows)
        mean, scale = self.x[keep].mean(0), self.x[keep].std(0) + 1e-6
        remap = {r: i for i, r in enumerate(rows)}
        owner = np.array([remap[o] for o in self.owner[keep]])
        w, b = fit_window_logistic((self.x[keep] - mean) / scale, owner,
                                   np.array([labels[r] for r in rows], float), l2=l2)
        return mean, scale, w, b

    def chunk_logits(self, mean: np.ndarray, scale: np.ndarray, w: np.ndarray, b: float
                     ) -> np.ndarray:
        span = ((self.x - mean) / scale) @ w + b
        out = np.full(int(self.owner.max()) + 1, -np.inf)
        np.maximum.at(out, self.owner, span)
        return out


def fit_window(encoder_name: str, seed: int, n_episodes: int, n_val_domains: int,
               n_val_formats: int, batch_size: int, cache: Path | None, layers: tuple[int, ...],
               n_structured: int, l2_grid: tuple[float, ...], width: int,
               context: bool = False, prefix_chunks: int = 0,
               given_threshold: float | None = None) -> tuple[ProbeReadout, dict[str, Any]]:
    """:func:`fit` for a window readout (``ProbeReadout.window = width``): layer and L2 on
    the held-out-domain/format validation split, the threshold from out-of-fold logits (one
    fold per domain), then a refit on every episode. With ``prefix_chunks`` n, each chunk is
    read after the n before it (the judge's :func:`chunk_prefixes`) and a (prefix, chunk)
    pair is one training row. ``given_threshold`` replaces the out-of-fold threshold (which
    the record still gives)."""
    episodes = training_episodes(seed, n_episodes, n_structured)
    train, val, held = split(episodes, seed, n_val_domains, n_val_formats)
    labelled = []
    for e in episodes:
        chunks = episode_chunks(e)
        prefixes = chunk_prefixes([c for c, _ in chunks], prefix_chunks)
        labelled.append([((p, c), h) for p, (c, h) in zip(prefixes, chunks, strict=True)])
    distinct = sorted({c for chunks in labelled for c, _ in chunks})
    index = {c: i for i, c in enumerate(distinct)}
    by_row = [[(index[c], h) for c, h in chunks] for chunks in labelled]
    label_of: dict[int, bool] = {}
    for chunks in by_row:
        for r, h in chunks:
            label_of[r] = label_of.get(r, False) or h
    val_acceptable = np.array([episodes[i].acceptable for i in val])
    acceptable = np.array([e.acceptable for e in episodes])
    started = time.perf_counter()
    table, best = [], None
    spans_of: dict[int, _Spans] = {}
    model_name = digest = ""
    for layer in layers:
        states, model_name, digest = token_states(encoder_name, distinct, layer, batch_size,
                                                  cache)
        spans_of[layer] = spans = _Spans(states, distinct, width, context)
        train_rows = np.array(sorted({r for i in train for r, _ in by_row[i]}))
        for l2 in l2_grid:
            logits = spans.chunk_logits(*spans.fit(train_rows, label_of, l2))
            worst = np.array([max(logits[r] for r, _ in by_row[i]) for i in val])
            threshold, bal = choose_threshold(worst, val_acceptable)
            area = auc(worst, val_acceptable)
            table.append({"layer": layer, "l2": l2, "val_balanced_accuracy": round(bal, 4),
                          "val_auc": round(area, 4), "threshold": round(threshold, 4)})
            if best is None or (bal, area) > best[:2]:
                best = (bal, area, layer, l2)
    assert best is not None
    _, _, layer, l2 = best
    spans = spans_of[layer]
    groups = [e.domain for e in episodes]
    oof = np.zeros(len(episodes))
    for group in sorted(set(groups)):
        rows = np.array(sorted({r for i, g in enumerate(groups) if g != group
                                for r, _ in by_row[i]}))
        logits = spans.chunk_logits(*spans.fit(rows, label_of, l2))
        for i, g in enumerate(groups):
            if g == group:
                oof[i] = max(logits[r] for r, _ in by_row[i])
    oof_threshold, oof_bal = choose_threshold(oof, acceptable)
    mean, scale, w, b = spans.fit(np.arange(len(distinct)), label_of, l2)
    chosen_by = "out-of-fold worst-chunk logits, one fold per domain"
    threshold = oof_threshold if given_threshold is None else given_threshold
    if given_threshold is not None:
        at_given = balanced_accuracy(acceptable, oof < threshold)
        chosen_by = (f"given (--threshold, chosen on the tuning sets of "
                     f"scripts/compare_probe_readouts.py); the out-of-fold threshold was "
                     f"{round(oof_threshold, 4)}, and at the given one the out-of-fold "
                     f"balanced accuracy is {round(at_given, 4)}")
    record = {
        "data": data_record(seed, n_structured, episodes, len(distinct), len(train), len(val),
                            held),
        "candidates": {"layers": list(layers), "l2": list(l2_grid), "window": width,
                       "context": context,
                       **({"prefix_chunks": prefix_chunks} if prefix_chunks else {})},
        "chosen": {"layer": layer, "pooling": "mean", "window": width, "context": context,
                   **({"prefix_chunks": prefix_chunks} if prefix_chunks else {}), "l2": l2,
                   "val_balanced_accuracy": round(best[0], 4), "val_auc": round(best[1], 4)},
        "final": {"fitted_on": "all episodes", "chunks": len(distinct),
                  "threshold": round(threshold, 4), "threshold_from": chosen_by,
                  "oof_balanced_accuracy": round(oof_bal, 4),
                  "oof_auc": round(auc(oof, acceptable), 4)},
        "encoder": {"name": encoder_name, "model": model_name, "weights_sha256": digest},
    }
    readout = ProbeReadout(encoder_name, layer, "mean", mean, scale, w, b, threshold,
                           settings=json.dumps(record, sort_keys=True), window=width,
                           context=context, prefix_chunks=prefix_chunks)
    return readout, {**record, "table": table,
                     "fit_seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--encoder", choices=("gemma", "minilm", "both"), default="gemma")
    parser.add_argument("--seed", type=int, default=0, help="data seed (0)")
    parser.add_argument("--episodes", type=int, default=500, help="generated episodes (500)")
    parser.add_argument("--structured", type=int, default=0,
                        help="also train on this many structured episodes (probe_events)")
    parser.add_argument("--val-domains", type=int, default=2)
    parser.add_argument("--val-formats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output .npz (default: the shipped consent_gym/judges/data/"
                             "probe_<encoder>.npz); with --encoder both, a folder")
    parser.add_argument("--features-cache", type=Path, default=None, metavar="DIR",
                        help="keep the embedded chunks here, so a re-fit skips the encoder")
    parser.add_argument("--layers", type=int, nargs="+", default=None,
                        help=f"candidate layers (default: {CANDIDATE_LAYERS})")
    parser.add_argument("--l2", type=float, nargs="+", default=list(L2_GRID),
                        help=f"candidate L2 penalties (default: {L2_GRID})")
    parser.add_argument("--window", type=int, default=0, metavar="W",
                        help="fit a window readout: a chunk scores as its best W-token span "
                             "(default 0: pooled chunks)")
    parser.add_argument("--context", action="store_true",
                        help="with --window: every span also reads its chunk's last token")
    parser.add_argument("--prefix-chunks", type=int, default=0, metavar="N",
                        help="with --window: read each chunk after the N chunks before it "
                             "(causal encoders only; default 0: each chunk alone)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="with --window: set the veto threshold (on the worst chunk's "
                             "logit) instead of taking the out-of-fold one; the record keeps both")
    parser.add_argument("--table", action="store_true", help="print every candidate's figures")
    args = parser.parse_args(argv)
    if args.threshold is not None and not (args.window and math.isfinite(args.threshold)):
        parser.error("--threshold needs --window and a finite number.")
    if args.prefix_chunks and (not args.window or args.encoder != "gemma"):
        parser.error("--prefix-chunks needs --window and --encoder gemma (a causal encoder).")
    import torch

    torch.set_num_threads(max(1, args.threads))
    for name in (("gemma", "minilm") if args.encoder == "both" else (args.encoder,)):
        cache = None if args.features_cache is None else (
            args.features_cache / f"probe_features_{name}.npz")
        if args.window:
            readout, record = fit_window(
                name, args.seed, args.episodes, args.val_domains, args.val_formats,
                args.batch_size, args.features_cache,
                tuple(args.layers or CANDIDATE_LAYERS[name]), args.structured, tuple(args.l2),
                args.window, args.context, args.prefix_chunks, args.threshold)
        else:
            readout, record = fit(name, args.seed, args.episodes, args.val_domains,
                                  args.val_formats, args.batch_size, cache,
                                  None if args.layers is None else tuple(args.layers),
                                  args.structured, tuple(args.l2))
        out = args.out or readout_path(name)
        if args.encoder == "both" and args.out is not None:
            out = args.out / f"probe_{name}.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        readout.save(out)
        table = record.pop("table")
        if args.table:
            for row in table:
                print(name, json.dumps(row))
        print(json.dumps({"encoder": name, "out": str(out), "fingerprint": readout.fingerprint,
                          **record}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
