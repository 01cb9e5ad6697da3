"""Side-by-side benchmarks: what consent gating costs, measured as ratios in one process.

These machines are noisy, so each benchmark interleaves its arms (raw, gated, raw, gated,
...) and reports medians and the ratio of medians rather than absolute numbers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from consent_gym.judges.rule import RuleJudge
from consent_gym.wrapper import ConsentWrapper


@dataclass(frozen=True)
class WrapperOverhead:
    """Steps/s of one env raw and under :class:`~consent_gym.ConsentWrapper`.

    Attributes:
        raw_steps_per_s: Median over the repetitions, raw env.
        wrapped_steps_per_s: Median over the repetitions, wrapped env.
        pair_ratios: Per repetition, raw speed over the wrapped speed measured right after
            it (both arms of a pair see about the same machine load).
    """

    env_id: str
    steps: int
    repeats: int
    raw_steps_per_s: float
    wrapped_steps_per_s: float
    episodes_judged: int
    pair_ratios: tuple[float, ...] = ()

    @property
    def overhead_ratio(self) -> float:
        """Raw speed over wrapped speed (the median of the paired ratios): 1.10 means
        recording and rendering cost 10% of stepping."""
        if self.pair_ratios:
            return statistics.median(self.pair_ratios)
        return self.raw_steps_per_s / self.wrapped_steps_per_s

    @property
    def ratio_of_medians(self) -> float:
        """The median raw speed over the median wrapped speed (noisier on a busy machine)."""
        return self.raw_steps_per_s / self.wrapped_steps_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pair_ratios": list(self.pair_ratios),
            "overhead_ratio": self.overhead_ratio,
            "ratio_of_medians": self.ratio_of_medians,
        }


def steps_per_second(env: gym.Env, actions: np.ndarray, seed: int) -> tuple[float, int]:
    """Step ``env`` through ``actions`` (resetting at episode ends); returns (steps/s, episodes)."""
    env.reset(seed=seed)
    episodes = 0
    step = env.step
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            episodes += 1
            env.reset()
    return len(actions) / (time.perf_counter() - start), episodes


def bench_wrapper(
    env_id: str,
    steps: int = 5_000,
    repeats: int = 21,
    seed: int = 0,
    make: Callable[[str], gym.Env] = gym.make,
) -> WrapperOverhead:
    """Measure recording + rendering cost: the wrapper with a judge that costs nothing.

    Both arms take the same random actions from the same seed; arms alternate ``repeats``
    times (raw, wrapped, raw, wrapped, ...) and the headline is the median of the per-pair
    speed ratios: on a shared machine many short pairs, each measured under about the same
    load, give a steadier ratio than a few long runs compared by their medians.

    Example:
        >>> result = bench_wrapper("CartPole-v1", steps=500, repeats=1)
        >>> result.episodes_judged > 0 and result.overhead_ratio > 0
        True
    """
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be >= 1, got steps={steps}, repeats={repeats}.")
    free_judge = RuleJudge(lambda text: True, name="free")
    raw = make(env_id)
    wrapped = ConsentWrapper(make(env_id), judge=free_judge)
    raw.action_space.seed(seed)
    actions = np.array([raw.action_space.sample() for _ in range(steps)])
    # The Python scalar type the env expects, so neither arm pays for conversions.
    action_list = actions.tolist() if actions.ndim == 1 else list(actions)
    raw_rates: list[float] = []
    wrapped_rates: list[float] = []
    judged = 0
    steps_per_second(raw, np.asarray(action_list[:100]), seed)  # warm-up both arms
    steps_per_second(wrapped, np.asarray(action_list[:100]), seed)
    for _ in range(repeats):
        raw_rates.append(steps_per_second(raw, action_list, seed)[0])  # type: ignore[arg-type]
        rate, episodes = steps_per_second(wrapped, action_list, seed)  # type: ignore[arg-type]
        wrapped_rates.append(rate)
        judged += episodes
    raw.close()
    wrapped.close()
    return WrapperOverhead(
        env_id=env_id,
        steps=steps,
        repeats=repeats,
        raw_steps_per_s=statistics.median(raw_rates),
        wrapped_steps_per_s=statistics.median(wrapped_rates),
        episodes_judged=judged,
        pair_ratios=tuple(r / w for r, w in zip(raw_rates, wrapped_rates, strict=True)),
    )


# --------------------------------------------------------------------------- judge speed

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


@dataclass
class JudgeBench:
    """Everything ``consent-gym bench judge`` measures; the headline is one :class:`JudgeSpeed`."""

    model_name: str
    judge_id: str
    method: str
    threads: int
    dtype: str
    cost: JudgeCost
    results: list[JudgeSpeed]
    headline: JudgeSpeed
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
            "cached_verdicts_per_s": self.cached_verdicts_per_s,
            "warm_load_s": self.warm_load_s,
            "warm_load_with_imports_s": self.warm_load_with_imports_s,
            "cold_load_s": self.cold_load_s,
            "in_process_load_s": self.load_s,
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
from consent_gym.judges import default_judge
judge = default_judge(cache=False, dtype=sys.argv[1])
print(json.dumps({"load_s": judge.load_seconds, "with_imports_s": time.perf_counter() - start}))
"""


def default_judge_load_seconds(
    cache_dir: str | None = None, dtype: str = "auto"
) -> tuple[float, float]:
    """Load the default judge in a fresh Python process; ``(load_s, with_imports_s)``.

    ``load_s`` is the judge's own ``load_seconds`` (weights read, cast to ``dtype``,
    fingerprinted); ``with_imports_s`` adds importing torch and transformers. With
    ``cache_dir`` pointing at an empty folder the load is cold (the packaged GGUF is
    converted first).
    """
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if cache_dir is not None:
        env["CONSENT_GYM_CACHE"] = cache_dir
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, dtype], capture_output=True, text=True, env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"loading the default judge failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["load_s"]), float(result["with_imports_s"])


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
        judge: An :class:`~consent_gym.judges.LLMJudge`; ``None`` loads the default judge
            (after timing a warm load in a fresh process when ``warm_load``).
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
    import tempfile

    import torch

    from consent_gym.judges.cache import VerdictCache
    from consent_gym.judges.llm import _dtype_name

    sizes = sorted({int(b) for b in batch_sizes})
    lengths = sorted({int(t) for t in episode_tokens} | {int(headline_tokens)})
    if not sizes or min(sizes) < 1 or min(lengths) < 1 or min_episodes < 1:
        raise ValueError(
            f"batch sizes, episode tokens and min_episodes must be >= 1 and non-empty, got "
            f"{list(batch_sizes)}, {list(episode_tokens)}, {min_episodes}."
        )
    warm = warm_with_imports = cold = None
    if judge is None:
        if cold_load:
            with tempfile.TemporaryDirectory(prefix="consent-gym-cold-") as empty:
                cold = default_judge_load_seconds(empty, dtype)[0]
        if warm_load:
            default_judge_load_seconds(dtype=dtype)  # converts first if this machine never did
            warm, warm_with_imports = default_judge_load_seconds(dtype=dtype)
            if log is not None:
                log(f"warm load {warm:.1f} s ({warm_with_imports:.1f} s with imports)")
        from consent_gym.judges import default_judge

        judge = default_judge(cache=False, instructions=instructions, dtype=dtype)
    judge_dtype = _dtype_name(getattr(judge, "dtype", torch.float32))
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

        cache = VerdictCache()
        cache.put_many(
            (VerdictCache.key(judge.judge_id, judge.prompt, t), v)
            for t, v in zip(texts_seen, verdicts_seen, strict=True)
        )
        judge.cache = cache
        start = time.perf_counter()
        for _ in range(cached_repeats):
            judge.judge_batch(texts_seen)
        cached_seconds = time.perf_counter() - start
        if cache.misses:
            raise RuntimeError(f"{cache.misses} cached lookups missed; the cache key changed.")
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


# --------------------------------------------------------------------------- gated training


class _CountingJudge:
    """Forwards to a judge and records every call's texts and wall time.

    Everything else (``judge_id``, ``cache``, ...) is read from the wrapped judge, so the
    SB3 buffer sees the same cache counters and ids.
    """

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self.calls: list[list[str]] = []
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.judge, name)

    def judge_batch(self, texts: Sequence[str]) -> list[Any]:
        texts = list(texts)
        self.calls.append(texts)
        start = time.perf_counter()
        try:
            return list(self.judge.judge_batch(texts))
        finally:
            self.seconds += time.perf_counter() - start


@dataclass(frozen=True)
class TrainArm:
    """One PPO run: wall time of ``learn()`` and the part spent in ``train()`` (updates)."""

    gated: bool
    seconds: float
    update_seconds: float
    judge_seconds: float = 0.0

    @property
    def rollout_seconds(self) -> float:
        """Collecting rollouts (env steps, policy forward, recording, rendering)."""
        return self.seconds - self.update_seconds - self.judge_seconds


@dataclass
class TrainBench:
    """Gated vs ungated PPO on one env for the same timesteps (``consent-gym bench train``)."""

    env_id: str
    timesteps: int
    n_envs: int
    judge_id: str
    mode: str
    ungated: list[TrainArm]
    gated: list[TrainArm]
    judge_calls: int
    rollouts: int
    texts_judged: int
    distinct_texts: int
    duplicates_within_calls: int
    repeated_across_calls: int
    finished_pieces: int
    fragment_pieces: int
    episodes_judged_twice: int
    cache_hit_rate: float | None
    veto_rate: float
    warm_from_seed: int | None = None

    @property
    def gated_over_ungated(self) -> float:
        """Median gated wall time over median ungated wall time."""
        return (statistics.median(a.seconds for a in self.gated)
                / statistics.median(a.seconds for a in self.ungated))

    @property
    def judge_share(self) -> float:
        """The judge's share of the gated wall time (medians over repeats)."""
        return (statistics.median(a.judge_seconds for a in self.gated)
                / statistics.median(a.seconds for a in self.gated))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("ungated", "gated"):
            out[key] = [{**asdict(a), "rollout_seconds": a.rollout_seconds}
                        for a in getattr(self, key)]
        return {"gated_over_ungated": self.gated_over_ungated, "judge_share": self.judge_share,
                **out}


def _timed_learn(model: Any, timesteps: int, callback: Any) -> tuple[float, float]:
    """``model.learn`` wall time and the part spent in ``model.train()``."""
    spent = [0.0]

    def train() -> None:
        start = time.perf_counter()
        try:
            type(model).train(model)  # the class current at call time (the callback swaps it)
        finally:
            spent[0] += time.perf_counter() - start

    model.train = train
    start = time.perf_counter()
    model.learn(timesteps, callback=callback)
    seconds = time.perf_counter() - start
    del model.train
    return seconds, spent[0]


def bench_train(
    judge: Any = None,
    timesteps: int = 10_240,
    env_id: str = "consent_gym/DeliveryCurb-v0",
    repeats: int = 1,
    seed: int = 0,
    mode: str = "zero",
    n_envs: int | None = None,
    ppo_kwargs: dict[str, Any] | None = None,
    warm_from_seed: int | None = None,
) -> TrainBench:
    """Wall time of gated vs ungated PPO for the same timesteps, and where it goes.

    Arms alternate (ungated, gated, ungated, gated, ...), same seed, the env's tuned
    ``PPO_KWARGS`` and ``N_ENVS`` (``consent_gym.envs.training``). The gated arm is the
    SB3 integration: ``make_consent_vec_env`` + ``consent_kwargs(judge, mode=mode)`` +
    ``ConsentCallback``. Each gated repeat starts with an empty verdict cache (when the
    judge, or a cascade's ``first`` or ``second`` judge, has a ``cache`` attribute holding
    a :class:`~consent_gym.judges.VerdictCache`), so repeats are comparable. Judge load
    time is not counted (it is a one-off; see ``bench judge``).

    Also checks the judging itself, over the last gated repeat: judge calls per rollout
    (one expected), texts per call, duplicates inside one call (each is scored by the LLM
    again when the judge does not deduplicate), texts already judged in an earlier call
    (cache hits), finished episodes judged more than once (expected 0), and the cache hit
    rate the SB3 buffer reports.

    Args:
        judge: Any judge; ``None`` loads the default LLM judge.
        timesteps: PPO timesteps per run.
        env_id: Gymnasium id.
        repeats: Runs per arm.
        seed: Seed of both arms.
        mode: Veto mode of the gated arm.
        n_envs: Sub-envs (default ``N_ENVS``).
        ppo_kwargs: PPO keyword arguments (default ``PPO_KWARGS``).
        warm_from_seed: Before each timed gated run, fill its fresh verdict cache with one
            untimed gated run of this seed (a frozen judge's earlier verdicts, as in a
            sweep over seeds that shares a cache file); ``None``: start cold.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList
    from stable_baselines3.common.env_util import make_vec_env

    import consent_gym  # noqa: F401  (registers the consent_gym/* ids)
    from consent_gym.envs.training import N_ENVS, PPO_KWARGS
    from consent_gym.judges.cache import VerdictCache
    from consent_gym.sb3 import ConsentCallback, consent_kwargs, make_consent_vec_env

    if timesteps < 1 or repeats < 1:
        raise ValueError(f"timesteps and repeats must be >= 1, got {timesteps}, {repeats}.")
    if judge is None:
        from consent_gym.judges import default_judge

        judge = default_judge()
    n_envs = N_ENVS if n_envs is None else n_envs
    kwargs = dict(PPO_KWARGS if ppo_kwargs is None else ppo_kwargs)

    class PieceLog(BaseCallback):
        """Reads each rollout's judged pieces from the consent buffer."""

        def __init__(self) -> None:
            super().__init__()
            self.pieces: list[Any] = []
            self.rollouts = 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            self.rollouts += 1
            buffer: Any = getattr(self.model, "rollout_buffer")  # noqa: B009  (PPO's, not typed)
            self.pieces += [piece for piece, *_ in buffer.verdicts]

    veto_mode: Any = mode
    warm_up = PPO("MlpPolicy", make_vec_env(env_id, n_envs=n_envs, seed=seed), seed=seed, **kwargs)
    warm_up.learn(1)  # one rollout and update: torch and SB3 warmed before either arm
    ungated: list[TrainArm] = []
    gated: list[TrainArm] = []
    counting = _CountingJudge(judge)
    log = PieceLog()
    model: Any = None
    for _ in range(repeats):
        venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
        model = PPO("MlpPolicy", venv, seed=seed, **kwargs)
        ungated.append(TrainArm(False, *_timed_learn(model, timesteps, None)))
        venv.close()

        parts: list[Any] = [judge, getattr(judge, "first", None), getattr(judge, "second", None)]
        for part in parts:
            if isinstance(getattr(part, "cache", None), VerdictCache):  # also a cascade's
                part.cache = VerdictCache()
        if warm_from_seed is not None:  # an earlier run's verdicts, untimed
            venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=warm_from_seed)
            earlier = PPO("MlpPolicy", venv, seed=warm_from_seed, **kwargs,
                          **consent_kwargs(judge, mode=veto_mode))
            earlier.learn(timesteps, callback=ConsentCallback())
            venv.close()
        counting.calls, counting.seconds = [], 0.0
        log = PieceLog()
        venv = make_consent_vec_env(env_id, n_envs=n_envs, seed=seed)
        gate = consent_kwargs(counting, mode=veto_mode)
        model = PPO("MlpPolicy", venv, seed=seed, **kwargs, **gate)
        seconds, update = _timed_learn(model, timesteps, CallbackList([ConsentCallback(), log]))
        gated.append(TrainArm(True, seconds, update, counting.seconds))
        venv.close()

    seen: set[str] = set()
    within = across = 0
    for texts in counting.calls:
        distinct = set(texts)
        within += len(texts) - len(distinct)
        across += sum(text in seen for text in texts)
        seen |= distinct
    finished = [(p.env_index, p.episode_index) for p in log.pieces if p.finished]
    stats = model.rollout_buffer.stats
    return TrainBench(
        env_id=env_id,
        timesteps=timesteps,
        n_envs=n_envs,
        judge_id=str(getattr(judge, "judge_id", type(judge).__name__)),
        mode=mode,
        ungated=ungated,
        gated=gated,
        judge_calls=len(counting.calls),
        rollouts=log.rollouts,
        texts_judged=sum(len(t) for t in counting.calls),
        distinct_texts=len(seen),
        duplicates_within_calls=within,
        repeated_across_calls=across,
        finished_pieces=len(finished),
        fragment_pieces=sum(not p.finished for p in log.pieces),
        episodes_judged_twice=len(finished) - len(set(finished)),
        cache_hit_rate=stats.cache_hit_rate,
        veto_rate=stats.veto_rate,
        warm_from_seed=warm_from_seed,
    )
