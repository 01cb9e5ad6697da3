"""Experiment (issue 13, candidate 12): fine-tune Gemma's body under the shipped readout (LP-FT).

    python scripts/fit_probe_lpft.py --steps 1200 --out /tmp/s32/lpft
    python scripts/fit_probe_lpft.py --score /tmp/s32/lpft --texts /tmp/s32/texts \
        --thresholds -0.4 -0.1 0.2 0.5 0.8 1.1 1.4

Every earlier readout read frozen layer-8 states. Here the shipped readout (linear probe
first) is the starting point, and LoRA adapters (r=8 on q, k, v, o of layers 1-8) and the
readout are trained together on the default recipe's generated training data (seed 0):
class-balanced batches of (prefix, chunk) keys, binary cross-entropy on the chunk's logit
exactly as ``ProbeReadout.span_logit`` computes it. The adapters are merged; ``--out`` gets
the changed body weights (``body.pt``) and the readout (``readout.npz``).

``--score`` runs ``compare_probe_readouts.py`` on the tuning sets with the fine-tuned body
in place of the frozen one (every ``ChunkEncoder`` built in the process loads ``body.pt``),
once per threshold (with ``--ensemble DIR``, the mean of the shipped reader's logit and
the tuned one's, candidate 12c); ``--texts`` must be a folder whose token caches were made
by this body (the texts' JSON files may be copied from another folder).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_probe_judge import episode_chunks, training_episodes

from consent_gym.judges.probe import (
    ChunkEncoder,
    ProbeReadout,
    chunk_prefixes,
    readout_path,
)

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def labelled_keys(seeds: list[int], n_episodes: int, n_structured: int, prefix_chunks: int,
                  acts: int = 0) -> dict[tuple[str, str], bool]:
    """Every (prefix, chunk) key of the training episodes of ``seeds`` and whether it holds
    harm (in any of them)."""
    label: dict[tuple[str, str], bool] = {}
    episodes = [e for seed in seeds for e in training_episodes(seed, n_episodes, n_structured)]
    if acts:
        from consent_gym.judges.probe_acts import act_episodes

        episodes += [d.as_probe_episode() for seed in seeds for d in act_episodes(seed, acts)]
    for episode in episodes:
        chunks = episode_chunks(episode)
        prefixes = chunk_prefixes([c for c, _ in chunks], prefix_chunks)
        for p, (c, h) in zip(prefixes, chunks, strict=True):
            label[(p, c)] = label.get((p, c), False) or h
    return label


def chunk_logits(states: Any, skip: Any, mask: Any, readout: dict[str, Any], width: int) -> Any:
    """Per row, the window readout's logit (best ``width``-token span + last token + bias)."""
    import torch

    d = readout["w"].shape[0] // 2
    out = []
    for row in range(states.shape[0]):
        end = int(mask[row].sum())
        own = states[row, int(skip[row]):end]
        tok = own @ readout["w"][:d]
        k = min(width, tok.shape[0])
        spans = tok.unfold(0, k, 1).mean(1)
        out.append(spans.max() + own[-1] @ readout["w"][d:] + readout["b"])
    return torch.stack(out)


def train(args: argparse.Namespace) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    start = ProbeReadout.load(readout_path("gemma"))
    assert start.window and start.context and start.prefix_chunks
    labels = labelled_keys(args.data_seeds, args.episodes, args.structured,
                           start.prefix_chunks, args.acts)
    harmful = sorted(k for k, h in labels.items() if h)
    harmless = sorted(k for k, h in labels.items() if not h)
    print(json.dumps({"keys": len(labels), "harmful": len(harmful)}), flush=True)
    encoder = ChunkEncoder("gemma")
    body = encoder.model
    layers = body.layers
    body.layers = layers[:start.layer]  # layers past the readout's never run
    body.config.num_hidden_layers = start.layer
    body.norm = torch.nn.Identity()  # the readout reads layer 8's output, before any norm
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=list(TARGETS))
    model = get_peft_model(body, config)
    # the readout with its standardisation folded in (as ProbeReadout.averaged does)
    w0 = torch.tensor(start.weights / start.scale, dtype=torch.float32)
    b0 = float(start.bias - (start.mean / start.scale) @ start.weights)
    readout = {"w": torch.nn.Parameter(w0.clone()), "b": torch.nn.Parameter(torch.tensor(b0))}
    lora = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": lora, "lr": args.lr},
                             {"params": list(readout.values()), "lr": args.readout_lr}],
                            weight_decay=0.0)
    half = args.batch // 2
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        keys = rng.sample(harmful, half) + rng.sample(harmless, half)
        target = torch.tensor([1.0] * half + [0.0] * half)
        enc, skip = encoder.encode([c for _, c in keys], [p for p, _ in keys])
        hidden = model(**enc).last_hidden_state
        logits = chunk_logits(hidden, skip, enc["attention_mask"], readout, start.window)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == 1:
            print(json.dumps({"step": step, "loss": round(float(loss), 4),
                              "s": round(time.perf_counter() - started, 1)}), flush=True)
    merged = model.merge_and_unload()
    args.out.mkdir(parents=True, exist_ok=True)
    changed = {k: v.detach().clone() for k, v in merged.state_dict().items()
               if any(t in k for t in TARGETS)}
    torch.save(changed, args.out / "body.pt")
    w = readout["w"].detach().numpy().astype(np.float32)
    fitted = ProbeReadout(encoder="gemma", layer=start.layer, pooling="mean",
                          mean=np.zeros_like(w), scale=np.ones_like(w), weights=w,
                          bias=float(readout["b"].detach()), threshold=start.threshold,
                          settings=json.dumps({"lpft": vars(args) | {"out": str(args.out)},
                                               "start": start.fingerprint}, default=str),
                          window=start.window, context=start.context,
                          prefix_chunks=start.prefix_chunks)
    fitted.save(args.out / "readout.npz")
    print(json.dumps({"out": str(args.out), "fingerprint": fitted.fingerprint,
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)


def score_ensemble(args: argparse.Namespace) -> int:
    """Candidate 12c: each key's logit is the mean of the shipped readout on the frozen body's
    states (the token cache in ``--ensemble``) and the tuned readout on the tuned body's
    (the cache in ``--texts``, complete: made by ``--score`` before); prints one line per
    threshold as compare_probe_readouts.py does."""
    import compare_probe_readouts as cmp
    from fit_probe_judge import token_states

    from consent_gym.judges.probe import prefixed_chunks

    base = ProbeReadout.load(readout_path("gemma"))
    tuned = ProbeReadout.load(args.score / "readout.npz")
    sets = {n: json.loads((args.texts / (n.replace("/", "_").replace(" ", "_") + ".json"))
                          .read_text()) for n in cmp.TUNING}
    keys = sorted({k for rows in sets.values() for r in rows
                   for k in prefixed_chunks(r["text"], base.prefix_chunks)})
    frozen = token_states("gemma", keys, base.layer, 32, args.ensemble)[0]
    states = token_states("gemma", keys, base.layer, 32, args.texts)[0]
    logit = {k: 0.5 * (base.span_logit(frozen[k]) + tuned.span_logit(states[k])) for k in keys}

    class Mean:  # what cmp._score reads of a readout, its "states" being the keys themselves
        window, prefix_chunks = base.window, base.prefix_chunks

        def __init__(self, threshold: float) -> None:
            self.threshold = threshold

        def span_logit(self, key: tuple[str, str]) -> float:
            return logit[key]

    for t in args.thresholds:
        line: dict[str, Any] = {"readout": f"mean of the default and {args.score}",
                                "threshold": t}
        errors: list[str] | None = [] if args.show_errors else None
        for name in cmp.TUNING:
            line[name] = cmp._score(Mean(t), {k: k for k in keys}, sets[name], errors, name)
        formats = [n for n in cmp.TUNING if n.startswith("formats ")]
        line["mean over the tuning format splits"] = round(float(np.mean(
            [line[n]["balanced"] for n in formats])), 4)
        line["harm approved on the tuning format splits"] = sum(
            line[n].get("harm_approved", 0) for n in formats)
        print(json.dumps(line), flush=True)
        if errors:
            print("\n".join(errors), flush=True)
    return 0


def score(args: argparse.Namespace) -> int:
    import compare_probe_readouts
    import torch

    if args.ensemble is not None:
        return score_ensemble(args)

    changed = torch.load(args.score / "body.pt")
    plain_init = ChunkEncoder.__init__

    def init(self: ChunkEncoder, *a: Any, **kw: Any) -> None:
        plain_init(self, *a, **kw)
        missing = set(changed) - set(self.model.state_dict())
        if missing:
            raise SystemExit(f"body.pt names weights the body lacks: {sorted(missing)[:3]}")
        self.model.load_state_dict(changed, strict=False)
        from consent_gym.judges.frozen import WeightFingerprint

        self.fingerprint = WeightFingerprint(self.model)

    ChunkEncoder.__init__ = init  # type: ignore[method-assign]
    fitted = ProbeReadout.load(args.score / "readout.npz")
    paths = []
    for t in args.thresholds:
        path = args.score / f"readout_t{t}.npz"
        ProbeReadout(**{f: getattr(fitted, f) for f in (
            "encoder", "layer", "pooling", "mean", "scale", "weights", "bias", "settings",
            "window", "context", "prefix_chunks")}, threshold=float(t)).save(path)
        paths.append(str(path))
    extra = ["--show-errors"] if args.show_errors else []
    return compare_probe_readouts.main([*paths, "--texts", str(args.texts), *extra])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0],
                        help="the training data's seeds (the default's readout used 0 1 2)")
    parser.add_argument("--episodes", type=int, default=800)
    parser.add_argument("--structured", type=int, default=1000)
    parser.add_argument("--acts", type=int, default=0,
                        help="also train on this many probe_acts documents per data seed "
                             "(candidate 12e: lines that name harm without reporting it)")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--readout-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/s32/lpft"))
    parser.add_argument("--score", type=Path, default=None)
    parser.add_argument("--texts", type=Path, default=Path("/tmp/s32/texts"))
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8])
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--ensemble", type=Path, default=None, metavar="DIR",
                        help="with --score: score the mean of the default and the tuned "
                             "reader; DIR holds the frozen body's token cache")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.score is not None:
        return score(args)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
