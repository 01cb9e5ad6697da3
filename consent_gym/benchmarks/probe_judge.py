"""What the default (probe) judge costs: uncached and cached speed, and its share of the CPU.

``consent-gym bench judge`` (``--judge probe``, the default): a
:class:`~consent_gym.judges.probe.ProbeJudge` judges the synthetic delivery-like episodes of
:func:`~consent_gym.benchmarks.judge.synthetic_episodes` at several episode lengths and
batch sizes (episodes per ``judge_batch`` call, as a gated rollout hands them over) with its
verdict cache off; beside each configuration the fp32 matmul rate is measured, and the
probe's FLOPs are set against it. Then cached verdicts/s, and a warm load in a fresh process.

This is its own module because the probe's cost model differs from the prompted LLM's
(:mod:`consent_gym.benchmarks.judge`, whose FLOPs are prompts x episode tokens x body plus an
output head): the probe runs no head and no prompt, only the layers up to its readout, over
the distinct chunks of the episodes in one call, padded per forward batch. The two share the
synthetic texts and the matmul measurement.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, astuple, dataclass
from typing import Any

from consent_gym.benchmarks.judge import (
    LoadAndCacheTimes,
    load_seconds_in_subprocess,
    matmul_gflops,
    synthetic_episodes,
    time_cached_verdicts,
    time_loads,
)


@dataclass(frozen=True)
class ProbeWork:
    """What a probe judge's encoder computes for some episodes handed over in calls.

    Attributes:
        episodes: Episodes judged.
        chunks: Chunks of those episodes (:func:`~consent_gym.judges.probe.split_chunks`),
            repeats included.
        distinct_chunks: Chunks embedded: the distinct chunks of each call, summed over calls
            (a chunk repeated within a call is embedded once; across calls, again).
        tokens: Tokens of the embedded chunks (the judge's tokenizer, special tokens such as
            Gemma's BOS included, truncated at the encoder's ``max_tokens``).
        padded_tokens: Positions the encoder computes: each forward batch is padded to its
            longest chunk, so this is the sum over batches of rows x longest row.
    """

    episodes: int
    chunks: int
    distinct_chunks: int
    tokens: int
    padded_tokens: int

    def __add__(self, other: ProbeWork) -> ProbeWork:
        return ProbeWork(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _check_probe(judge: Any) -> None:
    from consent_gym.judges.probe import ProbeJudge

    if not isinstance(judge, ProbeJudge):
        raise TypeError(
            f"judge must be a ProbeJudge (the default judge, consent_gym.judges.default_judge()"
            f"), got {type(judge).__name__}; time a prompted LLMJudge with "
            f"consent_gym.benchmarks.judge.bench_judge (consent-gym bench judge --judge llm).")


def probe_work(judge: Any, texts: Sequence[str], episodes_per_call: int) -> ProbeWork:
    """Count what ``judge`` (a :class:`~consent_gym.judges.probe.ProbeJudge`) computes when
    the distinct ``texts`` are judged uncached in calls of ``episodes_per_call`` episodes.

    It repeats the judge's own steps without running the model: per call, the escaped
    episodes are split into chunks, the call's distinct chunks (with the chunks they are read
    after, for a ``prefix_chunks`` readout) are ordered by length and cut into forward
    batches of the judge's ``batch_size`` (as the encoder orders them), and each batch is
    built by the encoder's own :meth:`~consent_gym.judges.probe.ChunkEncoder.encode`, padding,
    truncation and prefixes included.

    Raises:
        TypeError: ``judge`` is not a ProbeJudge, or ``texts`` not a list of str.
        ValueError: ``episodes_per_call`` < 1.
    """
    from consent_gym.judges.probe import prefixed_chunks
    from consent_gym.judges.scoring import check_texts

    _check_probe(judge)
    texts = check_texts(texts)
    if isinstance(episodes_per_call, bool) or not isinstance(episodes_per_call, int) or \
            episodes_per_call < 1:
        raise ValueError(f"episodes_per_call must be an int >= 1, got {episodes_per_call!r}.")
    encoder = judge.encoder
    n = judge.readout.prefix_chunks
    total = ProbeWork(0, 0, 0, 0, 0)
    for start in range(0, len(texts), episodes_per_call):
        call = list(dict.fromkeys(texts[start:start + episodes_per_call]))
        per_text = [prefixed_chunks(t, n, judge.max_words) for t in call]
        distinct = sorted({key for keys in per_text for key in keys})
        ordered = sorted(distinct, key=lambda k: len(k[0]) + len(k[1]))  # the encoder's order
        tokens = padded = 0
        for b in range(0, len(ordered), judge.batch_size):
            batch = ordered[b:b + judge.batch_size]
            enc, _ = encoder.encode([c for _, c in batch], [p for p, _ in batch] if n else None)
            tokens += int(enc["attention_mask"].sum())
            padded += int(enc["attention_mask"].numel())
        total += ProbeWork(len(call), sum(map(len, per_text)), len(distinct), tokens, padded)
    return total


def probe_layer_params(judge: Any) -> int:
    """Parameters of the encoder layers a probe judge runs: layers 1..readout layer.

    Every weight of those transformer blocks (attention and MLP projections, their norms);
    not the token embedding (a lookup, no multiply), not the layers after the readout (the
    forward stops there), no final norm, no output head.
    """
    _check_probe(judge)
    layers = judge.encoder.layers[: judge.readout.layer]
    return int(sum(p.numel() for layer in layers for p in layer.parameters()))


@dataclass(frozen=True)
class ProbeSpeed:
    """Uncached speed of a probe judge at one batch size and episode length.

    ``flops`` is ``2 * layer_params * work.padded_tokens``: two FLOPs per weight per
    position the encoder computes, padding included, embedding lookup and attention's
    score/value products (small at chunk lengths of tens of tokens) not counted.
    """

    batch_size: int
    episode_tokens: int
    mean_tokens: float
    seconds: float
    matmul_gflops: float
    layer_params: int
    work: ProbeWork

    @property
    def episodes(self) -> int:
        return self.work.episodes

    @property
    def flops(self) -> float:
        """FLOPs the encoder spent on these episodes (see the class docstring)."""
        return 2.0 * self.layer_params * self.work.padded_tokens

    @property
    def episodes_per_s(self) -> float:
        """Uncached episodes judged per second."""
        return self.work.episodes / self.seconds

    @property
    def tokens_per_s(self) -> float:
        """Episode-text tokens per second (the judge's tokenizer over each whole text)."""
        return self.work.episodes * self.mean_tokens / self.seconds

    @property
    def encoder_tokens_per_s(self) -> float:
        """Positions the encoder computed per second (distinct chunks, padding included)."""
        return self.work.padded_tokens / self.seconds

    @property
    def chunks_per_episode(self) -> float:
        return self.work.chunks / self.work.episodes

    @property
    def distinct_chunks_per_episode(self) -> float:
        return self.work.distinct_chunks / self.work.episodes

    @property
    def flop_fraction(self) -> float:
        """Achieved FLOP/s over the fp32 matmul rate measured beside this configuration."""
        return self.flops / self.seconds / (self.matmul_gflops * 1e9)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "work"},
            **asdict(self.work),
            "flops_per_episode": self.flops / self.work.episodes,
            "episodes_per_s": self.episodes_per_s,
            "tokens_per_s": self.tokens_per_s,
            "encoder_tokens_per_s": self.encoder_tokens_per_s,
            "chunks_per_episode": self.chunks_per_episode,
            "distinct_chunks_per_episode": self.distinct_chunks_per_episode,
            "flop_fraction": self.flop_fraction,
        }


@dataclass
class ProbeBench(LoadAndCacheTimes):
    """Everything ``consent-gym bench judge --judge probe`` measures; headline: one
    :class:`ProbeSpeed`."""

    model_name: str
    judge_id: str
    readout_layer: int
    encoder_layers: int
    pooling: str
    window: int
    context: bool
    prefix_chunks: int
    chunk_batch_size: int
    threads: int
    layer_params: int
    results: list[ProbeSpeed]
    headline: ProbeSpeed

    def to_dict(self) -> dict[str, Any]:
        h = self.headline
        return {
            "judge": "probe",
            "episodes_per_s": h.episodes_per_s,
            "tokens_per_s": h.tokens_per_s,
            "encoder_tokens_per_s": h.encoder_tokens_per_s,
            "chunks_per_episode": h.chunks_per_episode,
            "flop_fraction": h.flop_fraction,
            "matmul_gflops": h.matmul_gflops,
            "dtype": "float32",
            "headline_batch_size": h.batch_size,
            "headline_episode_tokens": h.mean_tokens,
            **self.load_and_cache_dict(),
            "model": self.model_name,
            "judge_id": self.judge_id,
            "readout_layer": self.readout_layer,
            "encoder_layers": self.encoder_layers,
            "pooling": self.pooling,
            "window": self.window,
            "context": self.context,
            "prefix_chunks": self.prefix_chunks,
            "chunk_batch_size": self.chunk_batch_size,
            "threads": self.threads,
            "layer_params": self.layer_params,
            "results": [r.to_dict() for r in self.results],
        }


_LOAD_SCRIPT = """
import json, time
start = time.perf_counter()
from consent_gym.judges import default_judge
judge = default_judge(cache=False)
print(json.dumps({"load_s": judge.load_seconds, "with_imports_s": time.perf_counter() - start}))
"""


def probe_judge_load_seconds(cache_dir: str | None = None) -> tuple[float, float]:
    """Load the default (probe) judge in a fresh Python process; ``(load_s, with_imports_s)``.

    ``load_s`` is the judge's own ``load_seconds`` (readout read and checked, Gemma's weights
    read in float32 and fingerprinted); ``with_imports_s`` adds importing torch and
    transformers. With ``cache_dir`` pointing at an empty folder the load is cold (the
    packaged GGUF is converted first).

    Raises:
        RuntimeError: the subprocess failed (its stderr's tail is in the message).
    """
    return load_seconds_in_subprocess(_LOAD_SCRIPT, (), cache_dir, "the default probe judge")


def bench_probe_judge(
    judge: Any = None,
    batch_sizes: Sequence[int] = (1, 8, 16, 32),
    episode_tokens: Sequence[int] = (32, 64, 128),
    headline_tokens: int = 64,
    min_episodes: int = 4,
    seed: int = 0,
    warm_load: bool = True,
    cold_load: bool = False,
    matmul_size: int = 1536,
    cached_repeats: int = 20,
    log: Callable[[str], Any] | None = None,
) -> ProbeBench:
    """Uncached and cached speed of a probe judge, and its fraction of the fp32 matmul rate.

    Configurations: every batch size at ``headline_tokens``, then every other episode length
    at the headline batch size (the largest). A configuration of batch size ``b`` judges
    ``max(b, min_episodes)`` distinct synthetic episodes (about the configuration's length in
    the judge's tokens) in ``judge_batch`` calls of ``b`` episodes, with the verdict cache
    off; the encoder's forward batch stays the judge's ``batch_size`` (chunks). The fp32
    matmul rate is measured before each configuration and once after the last; each
    configuration is set against the mean of its two neighbours (the load drifts). The
    FLOPs are :func:`probe_layer_params` x 2 x the positions :func:`probe_work` counts.
    Then the same texts again, through a verdict cache holding their verdicts.

    Args:
        judge: A :class:`~consent_gym.judges.probe.ProbeJudge`; ``None`` loads the default
            judge (after timing a warm load in a fresh process when ``warm_load``).
        warm_load, cold_load: Time loads of the default judge in subprocesses (default judge
            only; cold converts the packaged GGUF into an empty cache folder).
        log: Called with a line after each step, if given.
        Other arguments as :func:`consent_gym.benchmarks.judge.bench_judge`.

    Raises:
        ValueError: empty or non-positive sizes, or ``headline_tokens`` < 1.
        TypeError: ``judge`` is not a ProbeJudge.
    """

    import torch


    sizes = sorted({int(b) for b in batch_sizes})
    lengths = sorted({int(t) for t in episode_tokens} | {int(headline_tokens)})
    if not sizes or min(sizes) < 1 or min(lengths) < 1 or min_episodes < 1 or \
            cached_repeats < 1:
        raise ValueError(
            f"batch sizes, episode tokens, min_episodes and cached_repeats must be >= 1 and "
            f"non-empty, got {list(batch_sizes)}, {list(episode_tokens)}, {min_episodes}, "
            f"{cached_repeats}.")
    warm = warm_with_imports = cold = None
    if judge is None:
        warm, warm_with_imports, cold = time_loads(probe_judge_load_seconds, warm=warm_load,
                                                   cold=cold_load, log=log)
        from consent_gym.judges import default_judge

        judge = default_judge(cache=False)
    _check_probe(judge)
    tokenizer = judge.encoder.tokenizer

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    layer_params = probe_layer_params(judge)
    head_batch = sizes[-1]
    configs = [(b, int(headline_tokens)) for b in sizes]
    configs += [(head_batch, t) for t in lengths if t != headline_tokens]

    saved_cache = judge.cache
    judge.cache = None
    texts_seen: list[str] = []
    verdicts_seen: list[Any] = []
    timings: list[tuple[int, int, list[str], float]] = []
    rates: list[float] = []
    try:
        judge.judge_batch(synthetic_episodes(2, min(lengths), count_tokens, seed=seed + 999))
        for i, (batch, tokens) in enumerate(configs):
            count = max(batch, min_episodes)
            seen = set(texts_seen)  # a text judged before would not be uncached work
            texts = synthetic_episodes(count + 8, tokens, count_tokens, seed=seed + 1 + i)
            texts = [t for t in texts if t not in seen][:count]
            rates.append(matmul_gflops(matmul_size))
            verdicts = []
            start = time.perf_counter()
            for s in range(0, len(texts), batch):
                verdicts += judge.judge_batch(texts[s:s + batch])
            seconds = time.perf_counter() - start
            timings.append((batch, tokens, texts, seconds))
            if log is not None:
                log(f"batch {batch}, ~{tokens} tokens: {len(texts)} episodes in {seconds:.2f} s "
                    f"(matmul fp32 {rates[-1]:.1f} GFLOP/s before)")
            texts_seen += texts
            verdicts_seen += verdicts
        rates.append(matmul_gflops(matmul_size))

        cached_seconds = time_cached_verdicts(judge, texts_seen, verdicts_seen, cached_repeats)
    finally:
        judge.cache = saved_cache

    results = [
        ProbeSpeed(
            batch_size=batch,
            episode_tokens=tokens,
            mean_tokens=statistics.fmean(count_tokens(t) for t in texts),
            seconds=seconds,
            matmul_gflops=(rates[i] + rates[i + 1]) / 2,
            layer_params=layer_params,
            work=probe_work(judge, texts, batch),
        )
        for i, (batch, tokens, texts, seconds) in enumerate(timings)
    ]
    headline = next(r for r in results
                    if r.batch_size == head_batch and r.episode_tokens == headline_tokens)
    return ProbeBench(
        model_name=str(judge.encoder.model_name),
        judge_id=str(judge.judge_id),
        readout_layer=int(judge.readout.layer),
        encoder_layers=int(judge.encoder.n_layers),
        pooling=str(judge.readout.pooling),
        window=int(judge.readout.window),
        context=bool(judge.readout.context),
        prefix_chunks=int(judge.readout.prefix_chunks),
        chunk_batch_size=int(judge.batch_size),
        threads=torch.get_num_threads(),
        layer_params=layer_params,
        results=results,
        headline=headline,
        cached_verdicts=len(texts_seen) * cached_repeats,
        cached_seconds=cached_seconds,
        load_s=float(getattr(judge, "load_seconds", float("nan"))),
        warm_load_s=warm,
        warm_load_with_imports_s=warm_with_imports,
        cold_load_s=cold,
    )
