"""What judging costs: an LLM judge's uncached and cached speed, and its share of the CPU.

``consent-gym bench judge --judge llm`` (the default judge, the probe, is timed by
:mod:`consent_gym.benchmarks.probe_judge`): episodes/s and tokens/s at several batch
sizes and episode lengths on synthetic delivery-like texts, the fraction of this CPU's
matmul rate the judge reaches (measured next to each configuration, since the load
drifts), cached verdicts/s, and the judge's load time in a fresh process.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Sentences of the delivery world's narrative (see consent_gym/render/delivery.py), used to
#: build synthetic episode texts of a requested token length.
_EVENT_SENTENCES = (
    "Step {k}: the car mounted the curb onto the sidewalk.",
    "Step {k}: the car hit a pedestrian.",
    "Step {k}: the car left the sidewalk.",
    "Step {k}: the car hit a box.",
    "Step {k}: the car waited at the crossing.",
    "Step {k}: the car turned at the corner.",
)


def matmul_gflops(size: int = 1536, repeats: int = 5, dtype: str = "float32") -> float:
    """This CPU's matmul rate in GFLOP/s, measured now, in this process.

    ``torch.matmul`` of two ``size`` x ``size`` matrices of ``dtype`` (``2 * size**3``
    FLOPs), with the current ``torch.get_num_threads()``; one warm-up, then the median of
    ``repeats`` timings. In float32 (the default) this is the practical ceiling for any
    dense fp32 model on this CPU; ``dtype="bfloat16"`` gives the ceiling for a bf16 one.

    Example:
        >>> matmul_gflops(size=64, repeats=1) > 0
        True
    """
    import torch

    if size < 1 or repeats < 1:
        raise ValueError(f"size and repeats must be >= 1, got size={size}, repeats={repeats}.")
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype) or not torch_dtype.is_floating_point:
        raise ValueError(f"dtype must name a floating torch dtype, e.g. 'bfloat16'; got {dtype!r}.")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(torch_dtype)
    b = torch.randn(size, size, generator=gen).to(torch_dtype)
    out = torch.empty(size, size, dtype=torch_dtype)
    torch.matmul(a, b, out=out)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def synthetic_episodes(
    count: int, tokens: int, count_tokens: Callable[[str], int], seed: int = 0
) -> list[str]:
    """``count`` distinct delivery-like episode texts of about ``tokens`` tokens each.

    Each text is a narrative in the delivery renderer's words ("The car drove on the
    road. Step 3: the car mounted the curb ... The parcel was delivered at step 19.")
    with random events and step numbers, grown sentence by sentence while it stays within
    ``tokens`` (as counted by ``count_tokens``, e.g. the judge's own tokenizer; only a
    budget shorter than the bare outcome sentence is exceeded). Texts are
    all distinct, so a verdict cache cannot answer any of them.

    Example:
        >>> texts = synthetic_episodes(3, 24, lambda t: len(t.split()))
        >>> len(set(texts)), all(len(t.split()) <= 24 for t in texts)
        (3, True)
    """
    if count < 0 or tokens < 1:
        raise ValueError(f"count must be >= 0 and tokens >= 1, got {count}, {tokens}.")
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(texts) < count:
        attempts += 1
        if attempts > 100 * (count + 10):
            raise RuntimeError(f"could not make {count} distinct texts of {tokens} tokens.")
        step = int(rng.integers(1, 4))
        outcome = "The parcel was delivered at step {k}." if rng.random() < 0.8 else (
            "Time ran out at step {k} before the parcel was delivered.")
        sentences = ["The car drove on the road."]
        while True:
            step += int(rng.integers(1, 6))
            event = _EVENT_SENTENCES[int(rng.integers(len(_EVENT_SENTENCES)))]
            grown = [*sentences, event.format(k=step)]
            if count_tokens(" ".join([*grown, outcome.format(k=step + 1)])) > tokens:
                break
            sentences = grown
        text = " ".join([*sentences, outcome.format(k=step)])
        if text not in seen:  # within budget unless even the bare outcome is longer
            seen.add(text)
            texts.append(text)
    return texts


def _episode_token_counter(judge: Any) -> Callable[[str], int]:
    """How many tokens the judge's forward processes for one episode text, per prompt."""
    episode_ids = getattr(judge, "_episode_ids", None)
    if callable(episode_ids):
        return lambda text: len(episode_ids(text))
    tokenizer = judge.tokenizer
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class JudgeCost:
    """Where an LLM judge's FLOPs go, per episode token.

    Attributes:
        prompts: Prompts (headers) each episode is scored under; the shared prefix of each
            is encoded once and its KV cache reused, so only episode tokens are processed.
        header_tokens: Token length of each prompt prefix.
        body_params: Parameters a token passes through, embedding and output head excluded.
        head_params: Output projection (vocabulary x hidden; tied to the embedding in
            Gemma), applied at every scored episode position by the ``channel`` method.
        scores_every_position: True for ``channel`` (log P of every episode token), False
            for ``yesno`` (two logits at the last position only).
    """

    prompts: int
    header_tokens: tuple[int, ...]
    body_params: int
    head_params: int
    scores_every_position: bool

    def body_flops(self, tokens: float) -> float:
        """``2 * body_params * tokens * prompts``: the brief's FLOP count per episode."""
        return 2.0 * self.body_params * tokens * self.prompts

    def head_flops(self, tokens: float) -> float:
        """Output-projection FLOPs per episode (``channel``: every position but the first)."""
        rows = max(tokens - 1.0, 0.0) if self.scores_every_position else 0.0
        return 2.0 * self.head_params * rows * self.prompts


def judge_cost(judge: Any) -> JudgeCost:
    """Count an :class:`~consent_gym.judges.LLMJudge`'s prompts, header and parameters."""
    model = judge.model
    total = sum(p.numel() for p in model.parameters())
    inp = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    tied = out.data_ptr() == inp.data_ptr()
    body = total - inp.numel() - (0 if tied else out.numel())
    prefixes = judge.prefix_texts()
    header = tuple(len(judge.tokenizer(p, add_special_tokens=True)["input_ids"]) for p in prefixes)
    # A judge whose normaliser uses a shortlist projects on those rows only.
    rows = int(getattr(judge, "normalizer_rows", out.shape[0]))
    return JudgeCost(
        prompts=len(prefixes),
        header_tokens=header,
        body_params=int(body),
        head_params=int(rows * out.shape[1]),
        scores_every_position=getattr(judge, "method", "channel") == "channel",
    )


@dataclass(frozen=True)
class JudgeSpeed:
    """Uncached speed of a judge at one batch size and episode length."""

    batch_size: int
    episode_tokens: int
    mean_tokens: float
    episodes: int
    seconds: float
    matmul_gflops: float
    body_flops_per_episode: float
    head_flops_per_episode: float
    bf16_matmul_gflops: float | None = None

    @property
    def episodes_per_s(self) -> float:
        """Uncached episodes judged per second."""
        return self.episodes / self.seconds

    @property
    def tokens_per_s(self) -> float:
        """Episode tokens per second (each token is processed once per prompt)."""
        return self.episodes * self.mean_tokens / self.seconds

    def _fraction(self, with_head: bool, gflops: float) -> float:
        """Achieved FLOP/s (the body's, plus the output head's if asked) over ``gflops``."""
        flops = self.body_flops_per_episode + (self.head_flops_per_episode if with_head else 0.0)
        return self.episodes_per_s * flops / (gflops * 1e9)

    @property
    def flop_fraction(self) -> float:
        """Achieved body FLOP/s (``2 * N_non_embedding * tokens * prompts``) over the fp32
        matmul FLOP/s, whatever dtype the judge runs in (a bf16 judge can exceed 1)."""
        return self._fraction(False, self.matmul_gflops)

    @property
    def flop_fraction_with_head(self) -> float:
        """As :attr:`flop_fraction`, counting the output projection's FLOPs too."""
        return self._fraction(True, self.matmul_gflops)

    @property
    def flop_fraction_bf16(self) -> float | None:
        """As :attr:`flop_fraction`, over the bf16 matmul rate (``None``: not measured, the
        judge does not run in bf16)."""
        bf16 = self.bf16_matmul_gflops
        return None if bf16 is None else self._fraction(False, bf16)

    @property
    def flop_fraction_bf16_with_head(self) -> float | None:
        """As :attr:`flop_fraction_bf16`, counting the output projection's FLOPs too."""
        bf16 = self.bf16_matmul_gflops
        return None if bf16 is None else self._fraction(True, bf16)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "episodes_per_s": self.episodes_per_s,
            "tokens_per_s": self.tokens_per_s,
            "flop_fraction": self.flop_fraction,
            "flop_fraction_with_head": self.flop_fraction_with_head,
            "flop_fraction_bf16": self.flop_fraction_bf16,
            "flop_fraction_bf16_with_head": self.flop_fraction_bf16_with_head,
        }


@dataclass(kw_only=True)
class LoadAndCacheTimes:
    """What both judge benchmarks time besides judging: answers from the verdict cache and
    loading the judge (in this process, and warm and cold in fresh ones)."""

    cached_verdicts: int
    cached_seconds: float
    load_s: float
    warm_load_s: float | None = None
    warm_load_with_imports_s: float | None = None
    cold_load_s: float | None = None

    @property
    def cached_verdicts_per_s(self) -> float:
        """Verdicts per second answered by the verdict cache (texts judged before)."""
        return self.cached_verdicts / self.cached_seconds

    def load_and_cache_dict(self) -> dict[str, Any]:
        """The JSON keys of these times."""
        return {
            "cached_verdicts_per_s": self.cached_verdicts_per_s,
            "warm_load_s": self.warm_load_s,
            "warm_load_with_imports_s": self.warm_load_with_imports_s,
            "cold_load_s": self.cold_load_s,
            "in_process_load_s": self.load_s,
        }


def time_loads(load_seconds: Callable[[str | None], tuple[float, float]], *, warm: bool,
               cold: bool, log: Callable[[str], None] | None = None
               ) -> tuple[float | None, float | None, float | None]:
    """``(warm, warm_with_imports, cold)`` load seconds of a judge in fresh processes, each
    ``None`` unless asked for. ``load_seconds(cache_dir)`` loads it once (``None``: the
    usual cache); the cold load uses an empty cache folder, the warm one runs after a
    first load that converts the model if this machine never did."""
    import tempfile

    warm_s = warm_with_imports = cold_s = None
    if cold:
        with tempfile.TemporaryDirectory(prefix="consent-gym-cold-") as empty:
            cold_s = load_seconds(empty)[0]
    if warm:
        load_seconds(None)  # converts first if this machine never did
        warm_s, warm_with_imports = load_seconds(None)
        if log is not None:
            log(f"warm load {warm_s:.1f} s ({warm_with_imports:.1f} s with imports)")
    return warm_s, warm_with_imports, cold_s


def time_cached_verdicts(judge: Any, texts: Sequence[str], verdicts: Sequence[Any],
                         repeats: int) -> float:
    """Seconds ``judge`` takes to answer ``texts`` ``repeats`` times from a verdict cache
    holding their ``verdicts`` (the judge's own cache is put back afterwards).

    Raises:
        RuntimeError: a lookup missed (the cache key changed).
    """
    from consent_gym.judges.cache import VerdictCache

    saved = judge.cache
    cache = VerdictCache()
    cache.put_many((VerdictCache.key(judge.judge_id, judge.prompt, t), v)
                   for t, v in zip(texts, verdicts, strict=True))
    judge.cache = cache
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            judge.judge_batch(list(texts))
        seconds = time.perf_counter() - start
    finally:
        judge.cache = saved
    if cache.misses:
        raise RuntimeError(f"{cache.misses} cached lookups missed; the cache key changed.")
    return seconds


@dataclass
class JudgeBench(LoadAndCacheTimes):
    """Everything ``consent-gym bench judge --judge llm`` measures; the headline is one
    :class:`JudgeSpeed`."""

    model_name: str
    judge_id: str
    method: str
    threads: int
    dtype: str
    cost: JudgeCost
    results: list[JudgeSpeed]
    headline: JudgeSpeed

    def to_dict(self) -> dict[str, Any]:
        h = self.headline
        return {
            "episodes_per_s": h.episodes_per_s,
            "tokens_per_s": h.tokens_per_s,
            "flop_fraction": h.flop_fraction,
            "flop_fraction_with_head": h.flop_fraction_with_head,
            "matmul_gflops": h.matmul_gflops,
            "dtype": self.dtype,
            "bf16_matmul_gflops": h.bf16_matmul_gflops,
            "flop_fraction_bf16": h.flop_fraction_bf16,
            "flop_fraction_bf16_with_head": h.flop_fraction_bf16_with_head,
            "headline_batch_size": h.batch_size,
            "headline_episode_tokens": h.mean_tokens,
            **self.load_and_cache_dict(),
            "model": self.model_name,
            "judge_id": self.judge_id,
            "method": self.method,
            "threads": self.threads,
            "prompts": self.cost.prompts,
            "header_tokens": list(self.cost.header_tokens),
            "body_params": self.cost.body_params,
            "head_params": self.cost.head_params,
            "results": [r.to_dict() for r in self.results],
        }


_LOAD_SCRIPT = """
import json, sys, time
start = time.perf_counter()
from consent_gym.judges import LLMJudge
judge = LLMJudge(cache=False, dtype=sys.argv[1])
print(json.dumps({"load_s": judge.load_seconds, "with_imports_s": time.perf_counter() - start}))
"""


def load_seconds_in_subprocess(script: str, args: Sequence[str] = (),
                               cache_dir: str | None = None, what: str = "the judge"
                               ) -> tuple[float, float]:
    """Run ``script`` (which builds a judge and prints ``{"load_s", "with_imports_s"}`` as
    its last line) in a fresh Python process; ``(load_s, with_imports_s)``.

    ``cache_dir`` becomes ``CONSENT_GYM_CACHE`` (an empty folder makes the load cold).

    Raises:
        RuntimeError: the subprocess failed (its stderr's tail, naming ``what``).
    """
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if cache_dir is not None:
        env["CONSENT_GYM_CACHE"] = cache_dir
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"loading {what} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["load_s"]), float(result["with_imports_s"])


def llm_judge_load_seconds(
    cache_dir: str | None = None, dtype: str = "auto"
) -> tuple[float, float]:
    """Load the prompted LLM judge in a fresh Python process; ``(load_s, with_imports_s)``.

    ``load_s`` is the judge's own ``load_seconds`` (weights read, cast to ``dtype``,
    fingerprinted); ``with_imports_s`` adds importing torch and transformers. With
    ``cache_dir`` pointing at an empty folder the load is cold (the packaged GGUF is
    converted first).
    """
    return load_seconds_in_subprocess(_LOAD_SCRIPT, [dtype], cache_dir, "the LLM judge")


def bench_judge(
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
    instructions: str | None = None,
    log: Callable[[str], Any] | None = None,
    dtype: str = "auto",
) -> JudgeBench:
    """Uncached and cached speed of an LLM judge, and its fraction of the matmul limit.

    Configurations: every batch size at ``headline_tokens``, and every other episode length
    at the headline batch size (the judge's own ``batch_size`` if listed, else the
    largest). Each configuration judges ``max(batch_size, min_episodes)`` distinct
    synthetic episodes with the judge's verdict cache off; the fp32 matmul rate (and the
    bf16 one, for a judge whose weights are bfloat16) is measured just before each
    configuration and once after the last, and each configuration is compared with the
    mean of its two neighbouring measurements (the machine's load drifts). Then the same
    texts go through ``judge_batch`` again with a verdict cache holding their verdicts:
    cached verdicts/s.

    Args:
        judge: An :class:`~consent_gym.judges.LLMJudge`; ``None`` loads the prompted LLM
            judge on the embedded Gemma (after timing a warm load in a fresh process when
            ``warm_load``).
        batch_sizes: Batch sizes to time at ``headline_tokens``.
        episode_tokens: Episode lengths (tokens) to time at the headline batch size.
        headline_tokens: The headline episode length.
        min_episodes: At least this many episodes per configuration.
        seed: Seed for the synthetic texts.
        warm_load: Time a warm load of the default judge in a subprocess (default judge
            only).
        cold_load: Also time a cold load (conversion from the GGUF) in a subprocess with
            an empty cache folder (about a minute; default judge only).
        matmul_size: Square matrix size for the matmul rate.
        cached_repeats: Passes over the texts for the cached measurement.
        instructions: A constitution for the default judge (prepended to every prompt, so
            it lengthens the KV-cached header); only when ``judge`` is ``None``.
        log: Called with a line after each step (loads, each configuration), if given.
        dtype: For the default judge (``judge=None``): ``"auto"`` (bf16 where the CPU
            multiplies it natively), ``"float32"`` or ``"bfloat16"``; see
            :class:`~consent_gym.judges.LLMJudge`. A given judge keeps its own.

    Raises:
        ValueError: empty or non-positive sizes.
    """

    import torch

    from consent_gym.judges.loading import dtype_name

    sizes = sorted({int(b) for b in batch_sizes})
    lengths = sorted({int(t) for t in episode_tokens} | {int(headline_tokens)})
    if not sizes or min(sizes) < 1 or min(lengths) < 1 or min_episodes < 1:
        raise ValueError(
            f"batch sizes, episode tokens and min_episodes must be >= 1 and non-empty, got "
            f"{list(batch_sizes)}, {list(episode_tokens)}, {min_episodes}."
        )
    warm = warm_with_imports = cold = None
    if judge is None:
        warm, warm_with_imports, cold = time_loads(
            lambda cache_dir: llm_judge_load_seconds(cache_dir, dtype), warm=warm_load,
            cold=cold_load, log=log)
        from consent_gym.judges import LLMJudge

        judge = LLMJudge(cache=False, instructions=instructions, dtype=dtype)
    judge_dtype = dtype_name(getattr(judge, "dtype", torch.float32))
    bf16 = judge_dtype == "bfloat16"
    cost = judge_cost(judge)
    count_tokens = _episode_token_counter(judge)
    own_batch = int(judge.batch_size)
    head_batch = own_batch if own_batch in sizes else sizes[-1]
    configs = [(b, int(headline_tokens)) for b in sizes]
    configs += [(head_batch, t) for t in lengths if t != headline_tokens]

    saved_cache, saved_batch = judge.cache, judge.batch_size
    judge.cache = None
    texts_seen: list[str] = []
    verdicts_seen: list[Any] = []
    timings: list[tuple[int, int, list[str], float]] = []
    rates: list[float] = []
    bf16_rates: list[float] = []
    try:
        judge.judge_batch(synthetic_episodes(2, min(lengths), count_tokens, seed=seed + 999))
        for i, (batch, tokens) in enumerate(configs):
            texts = synthetic_episodes(
                max(batch, min_episodes), tokens, count_tokens, seed=seed + 1 + i
            )
            texts = [t for t in texts if t not in texts_seen][: max(batch, min_episodes)]
            rates.append(matmul_gflops(matmul_size))
            if bf16:
                bf16_rates.append(matmul_gflops(matmul_size, dtype="bfloat16"))
            judge.batch_size = batch
            start = time.perf_counter()
            verdicts = judge.judge_batch(texts)
            seconds = time.perf_counter() - start
            timings.append((batch, tokens, texts, seconds))
            if log is not None:
                bf16_note = f", bf16 {bf16_rates[-1]:.1f}" if bf16 else ""
                log(f"batch {batch}, ~{tokens} tokens: {len(texts)} episodes in {seconds:.1f} s "
                    f"(matmul fp32 {rates[-1]:.1f}{bf16_note} GFLOP/s before)")
            texts_seen += texts
            verdicts_seen += verdicts
        rates.append(matmul_gflops(matmul_size))
        if bf16:
            bf16_rates.append(matmul_gflops(matmul_size, dtype="bfloat16"))

        cached_seconds = time_cached_verdicts(judge, texts_seen, verdicts_seen, cached_repeats)
    finally:
        judge.cache, judge.batch_size = saved_cache, saved_batch

    results = []
    for i, (batch, tokens, texts, seconds) in enumerate(timings):
        mean_tokens = statistics.fmean(count_tokens(t) for t in texts)
        results.append(JudgeSpeed(
            batch_size=batch,
            episode_tokens=tokens,
            mean_tokens=mean_tokens,
            episodes=len(texts),
            seconds=seconds,
            matmul_gflops=(rates[i] + rates[i + 1]) / 2,
            body_flops_per_episode=cost.body_flops(mean_tokens),
            head_flops_per_episode=cost.head_flops(mean_tokens),
            bf16_matmul_gflops=(bf16_rates[i] + bf16_rates[i + 1]) / 2 if bf16 else None,
        ))
    headline = next(
        r for r in results if r.batch_size == head_batch and r.episode_tokens == headline_tokens
    )
    return JudgeBench(
        model_name=str(judge.model_name),
        judge_id=str(judge.judge_id),
        method=str(getattr(judge, "method", "")),
        threads=torch.get_num_threads(),
        dtype=judge_dtype,
        cost=cost,
        results=results,
        headline=headline,
        cached_verdicts=len(texts_seen) * cached_repeats,
        cached_seconds=cached_seconds,
        load_s=float(getattr(judge, "load_seconds", float("nan"))),
        warm_load_s=warm,
        warm_load_with_imports_s=warm_with_imports,
        cold_load_s=cold,
    )
