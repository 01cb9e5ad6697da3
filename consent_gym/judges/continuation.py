"""Sampling continuations of a text from a frozen causal LM, on fixed seeds.

:class:`ContinuationSampler` reads a text as the start of a document and lets the model
write on: ``k`` continuations, one per seed, each sampled token by token from the model's
own distribution (greedy decoding alone would always give the single most likely
continuation, e.g. the harmless outcome of a collision that is harmful one time in four).
Each continuation is drawn with its own ``torch.Generator`` seeded by its seed, so the same
text and seed always give the same continuation, whatever else is in the batch. The model is
frozen and fingerprinted like a judge's (:class:`~consent_gym.judges.frozen.WeightFingerprint`);
the sampler's id covers the weights and every setting that changes what it writes.

The text is data for the model to continue, never instructions: control characters are
removed and fence markers broken up (:func:`~consent_gym.judges.scoring.escape_episode`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Sequence
from typing import Any

from consent_gym.judges.frozen import WeightFingerprint
from consent_gym.judges.llm import cache_argument
from consent_gym.judges.loading import check_device, load_causal_lm, resolve_dtype
from consent_gym.judges.scoring import escape_episode

__all__ = ["ContinuationSampler", "check_seeds"]


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct whole numbers >= 0, or a ValueError naming the fix.

    Example:
        >>> check_seeds([3, 1])
        (3, 1)
    """
    if isinstance(seeds, (str, bytes)):
        raise ValueError("seeds must be a list of whole numbers, not a string.")
    out = tuple(seeds)
    if not out:
        raise ValueError("seeds is empty: give one seed per continuation to sample.")
    for seed in out:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seeds must be whole numbers >= 0, got {seed!r}.")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds {list(out)} repeat a seed: the same seed samples the same "
                         "continuation twice.")
    return out


class ContinuationSampler:
    """A frozen causal LM that continues texts, ``len(seeds)`` samples per text.

    Args:
        model: A local transformers checkpoint folder, or a loaded causal LM (then pass
            ``tokenizer``).
        tokenizer: Needed with a loaded model.
        max_new_tokens: Tokens written at most per continuation (it also stops at the
            model's end-of-sequence tokens).
        temperature: Sampling temperature (1.0: the model's own distribution).
        prompt_prefix: Text put before every text the model continues (e.g. the label the
            model's training texts started with); it is not part of the continuation.
        max_prompt_tokens: A longer prompt keeps its last tokens (what comes next depends
            most on them).
        device: ``"cpu"`` (default) or a CUDA device.
        dtype: The weights' dtype: ``"float32"`` (default), ``"bfloat16"``, ``"auto"`` (see
            :func:`~consent_gym.judges.loading.resolve_dtype`), or ``None`` (the checkpoint's
            own). A loaded model is cast (in place) only for an explicit dtype, not for
            ``"auto"`` or ``None``.

    Attributes:
        fingerprint: sha256 of the weights (:class:`WeightFingerprint`).
        sampler_id: ``sample:<fingerprint>:<settings hash>``.

    Example (with a tiny model):
        >>> sampler = ContinuationSampler(tiny_model_dir, max_new_tokens=8)  # doctest: +SKIP
        >>> sampler.continue_text("The car hit a box.", [0, 1])  # doctest: +SKIP
        [' ...', ' ...']
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        max_new_tokens: int = 48,
        temperature: float = 1.0,
        prompt_prefix: str = "",
        max_prompt_tokens: int = 512,
        device: Any = "cpu",
        dtype: Any = "float32",
    ) -> None:

        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}.")
        if isinstance(max_prompt_tokens, bool) or not isinstance(max_prompt_tokens, int) \
                or max_prompt_tokens < 8:
            raise ValueError(
                f"max_prompt_tokens must be a whole number >= 8, got {max_prompt_tokens!r}.")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}; for "
                             "the single most likely continuation use one seed and a small "
                             "temperature such as 1e-3.")
        if not isinstance(prompt_prefix, str):
            raise TypeError(f"prompt_prefix must be a str, got {type(prompt_prefix).__name__}.")
        self.device = check_device(device)
        torch_dtype = resolve_dtype(dtype, self.device)
        self.model: Any
        self.tokenizer: Any
        self.model, self.tokenizer, self.model_name = load_causal_lm(
            model, tokenizer, dtype, torch_dtype,
            accepted="a checkpoint folder or a loaded transformers causal LM")
        self.model.to(self.device)
        self._fingerprint = WeightFingerprint(self.model)
        self.fingerprint = self._fingerprint.digest
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.prompt_prefix = prompt_prefix
        self.max_prompt_tokens = max_prompt_tokens
        self._stop_ids = self._end_ids()
        self._cache_arg = cache_argument(self.model)
        self._keep_arg = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        settings = json.dumps({"max_new_tokens": max_new_tokens, "temperature": self.temperature,
                               "prompt_prefix": prompt_prefix,
                               "max_prompt_tokens": max_prompt_tokens}, sort_keys=True)
        digest = hashlib.sha256(settings.encode()).hexdigest()[:12]
        self.sampler_id = f"sample:{self.fingerprint[:16]}:{digest}"

    def _end_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id,
                       getattr(getattr(self.model, "generation_config", None), "eos_token_id",
                               None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        if not ids:
            raise ValueError("the tokenizer and model name no end-of-sequence token; a "
                             "continuation could not end before max_new_tokens.")
        return frozenset(ids)

    def verify_frozen(self, full: bool = True) -> None:
        """Raise :class:`~consent_gym.judges.FrozenJudgeError` if the weights changed."""
        self._fingerprint.verify(full=full)

    def prompt_ids(self, text: str) -> list[int]:
        """The token ids the model continues: ``prompt_prefix`` + the escaped text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        ids = list(self.tokenizer(self.prompt_prefix + escape_episode(text),
                                  add_special_tokens=True)["input_ids"])
        if len(ids) > self.max_prompt_tokens:
            bos = self.tokenizer.bos_token_id
            head = ids[:1] if bos is not None and ids[0] == bos else []
            ids = head + ids[len(ids) - (self.max_prompt_tokens - len(head)):]
        return ids

    def continue_text(self, text: str, seeds: Sequence[int]) -> list[str]:
        """One continuation of ``text`` per seed, in seed order (``""`` where the model
        ended the document at once)."""
        import torch

        seeds = check_seeds(seeds)
        self._fingerprint.verify(full=False)
        prompt = self.prompt_ids(text)
        k = len(seeds)
        generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        written: list[list[int]] = [[] for _ in seeds]
        done = [False] * k
        with torch.inference_mode():
            input_ids = torch.tensor([prompt] * k, device=self.device)
            extra = {"logits_to_keep": 1} if self._keep_arg else {}
            out = self.model(input_ids=input_ids, use_cache=True, **extra)
            for _ in range(self.max_new_tokens):
                logits = out.logits[:, -1, :].float() / self.temperature
                probs = torch.softmax(logits, dim=-1)
                picked = []
                for row in range(k):
                    if done[row]:
                        picked.append(next(iter(self._stop_ids)))
                        continue
                    token = int(torch.multinomial(probs[row], 1, generator=generators[row]))
                    if token in self._stop_ids:
                        done[row] = True
                    else:
                        written[row].append(token)
                    picked.append(token)
                if all(done):
                    break
                step = torch.tensor(picked, device=self.device)[:, None]
                out = self.model(input_ids=step, use_cache=True,
                                 **{self._cache_arg: out[self._cache_arg]}, **extra)
        return [self._decoded(prompt, ids) for ids in written]

    def _decoded(self, prompt: list[int], ids: list[int]) -> str:
        """The text ``ids`` add after ``prompt`` (decoding both together keeps the space a
        sentencepiece tokenizer drops at the start of a decoded piece)."""
        if not ids:
            return ""
        head = str(self.tokenizer.decode(prompt, skip_special_tokens=True))
        full = str(self.tokenizer.decode(prompt + ids, skip_special_tokens=True))
        if full.startswith(head):
            return str(full[len(head):])
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def __repr__(self) -> str:
        return f"ContinuationSampler(model={self.model_name!r}, sampler_id={self.sampler_id!r})"
