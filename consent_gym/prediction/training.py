"""Fine-tune a copy of a frozen judge's model as a plain language model on episode records.

:func:`train_prediction_copy` loads the judge's causal LM (the embedded Gemma 3 270M, or any
local checkpoint), fingerprints it, makes an independent copy (:func:`training_copy`), puts
LoRA adapters on the copy's attention projections (``q_proj``/``v_proj`` by default, via
``peft``), trains them with next-token cross-entropy on the texts (each text ends with the
tokenizer's end-of-sequence token, so the copy also learns where a record ends), bounded
by a number of steps and a wall-clock budget, merges the adapters into the copy's weights,
and saves the result with ``save_pretrained`` (model and tokenizer) as a new checkpoint.
Next to the weights, ``training_record.json`` holds the corpus's sha256, the settings, the
loss curve, and the original's and the new checkpoint's fingerprints
(:class:`~consent_gym.judges.frozen.WeightFingerprint`).

The original must stay bit for bit what it was: its full fingerprint is re-checked after
training and merging, and any change raises :class:`~consent_gym.judges.FrozenJudgeError`
(nothing is saved then). ``LLMJudge(path)`` loads the new checkpoint; its judge id differs
from the original's because its weights do.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consent_gym.judges.frozen import FrozenJudgeError, WeightFingerprint

if TYPE_CHECKING:
    import torch

__all__ = [
    "RECORD_NAME",
    "TARGET_MODULES",
    "load_training_base",
    "train_prediction_copy",
    "training_copy",
]

#: The training record's file name inside the new checkpoint's folder.
RECORD_NAME = "training_record.json"
#: The attention projections LoRA adapts (their names in Gemma, Llama and most decoders).
TARGET_MODULES: tuple[str, ...] = ("q_proj", "v_proj")


def load_training_base(base: str | os.PathLike[str] | None) -> tuple[Any, Any, str]:
    """``(model, tokenizer, name)`` in float32: the embedded default judge model for
    ``None``, else the transformers checkpoint at ``base``."""
    import torch

    if base is None:
        from consent_gym.judges.loading import load_default_model

        return load_default_model(dtype=torch.float32)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(base)
    if not path.is_dir():
        raise FileNotFoundError(
            f"base model folder {str(path)!r} does not exist; pass a local transformers "
            "checkpoint folder, or nothing for the embedded Gemma 3 270M."
        )
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(str(path)), str(path)


def training_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An independent copy of ``model`` (no tensor shared) that training may change."""
    return copy.deepcopy(model)


def _check_settings(steps: int, max_minutes: float, lr: float, rank: int, batch_size: int,
                    max_tokens: int) -> None:
    def whole(name: str, value: object, least: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}.")

    whole("steps", steps, 1)
    whole("rank", rank, 1)
    whole("batch_size", batch_size, 1)
    whole("max_tokens", max_tokens, 8)
    for name, value in (("max_minutes", max_minutes), ("lr", lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}.")


def _encode(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token_id: a record's end cannot be learned.")
    out = []
    for text in texts:
        ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])[: max_tokens - 1]
        out.append([*ids, int(eos)])
    return out


def _batch(seqs: list[list[int]], pad: int) -> tuple[Any, Any, Any]:
    import torch

    longest = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), longest), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels


def train_prediction_copy(
    texts: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    base: str | os.PathLike[str] | None = None,
    steps: int = 200,
    max_minutes: float = 12.0,
    lr: float = 1e-3,
    rank: int = 8,
    alpha: int | None = None,
    batch_size: int = 8,
    max_tokens: int = 192,
    seed: int = 0,
    target_modules: Sequence[str] = TARGET_MODULES,
    corpus_sha256: str | None = None,
    label: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a prediction copy of ``base`` on ``texts`` and save it under ``out_dir``.

    Args:
        texts: The training records (e.g. the ``text`` of a corpus's ``train.jsonl``).
        out_dir: The new checkpoint's folder; it must not exist yet, or be empty.
        base: The judge's model: ``None`` for the embedded Gemma 3 270M, else a local
            transformers checkpoint folder. It is loaded in float32 and never written.
        steps: Optimiser steps at most (the texts are cycled through, reshuffled each pass).
        max_minutes: Wall-clock budget for the training loop; it stops before a step that
            would likely overrun it.
        lr: AdamW learning rate of the adapters.
        rank: LoRA rank; ``alpha`` defaults to ``2 * rank``.
        batch_size: Texts per step.
        max_tokens: Tokens kept per text (with the end-of-sequence token).
        seed: Seeds the adapters' initialisation and the order of the texts.
        target_modules: The linear layers LoRA adapts.
        corpus_sha256: The corpus file's digest, recorded (``None``: not known).
        label: The actor label the texts carry, recorded (``None``: none).
        progress: Called with a line of progress now and then (e.g. ``print``).

    Returns:
        The training record (also written to ``out_dir/training_record.json``).

    Raises:
        ValueError: no texts, a non-str text, a bad setting, or a non-empty ``out_dir``.
        FrozenJudgeError: the original's weights changed during training (nothing saved).
    """
    try:
        import peft
    except ImportError as exc:
        raise ImportError("predict-train trains LoRA adapters with peft, which is not installed: "
                          "pip install 'consent-gym[llm]' (or pip install peft).") from exc
    import torch
    import transformers

    texts = list(texts)
    if not texts:
        raise ValueError("no texts to train on; collect a corpus first (consent-gym "
                         "predict-corpus).")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(f"texts {bad[:5]} are not non-empty strings.")
    _check_settings(steps, max_minutes, lr, rank, batch_size, max_tokens)
    if not target_modules:
        raise ValueError("target_modules is empty: name the linear layers LoRA adapts.")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{str(out)!r} exists and is not an empty folder; choose a new one "
                         "(a checkpoint is never overwritten).")
    say = progress or (lambda line: None)

    started = time.perf_counter()
    original, tokenizer, base_name = load_training_base(base)
    fingerprint = WeightFingerprint(original)  # also freezes the original (eval, no grads)
    say(f"predict-train: base {base_name} fingerprint {fingerprint.digest[:16]}; "
        f"{len(texts)} texts")

    copy_model = training_copy(original)
    config = peft.LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, lora_dropout=0.0,
                             target_modules=list(target_modules), bias="none",
                             task_type="CAUSAL_LM")
    try:
        with torch.random.fork_rng():  # the adapters' initialisation; the caller's RNG stays
            torch.manual_seed(seed)
            model = peft.get_peft_model(copy_model, config)
    except ValueError as exc:  # peft: "Target modules ... not found in the base model"
        raise ValueError(f"no layer of {base_name} matches target_modules="
                         f"{list(target_modules)} ({exc}).") from exc
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"no layer of {base_name} matches target_modules={list(target_modules)}.")
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    seqs = _encode(tokenizer, texts, max_tokens)
    order_rng = random.Random(seed)
    order: list[int] = []
    losses: list[float] = []
    tokens_seen = 0
    stopped_by = "steps"
    model.train()
    train_start = time.perf_counter()
    budget = max_minutes * 60.0
    for step in range(steps):
        elapsed = time.perf_counter() - train_start
        if step and elapsed + elapsed / step > budget:
            stopped_by = "time"
            break
        if len(order) < batch_size:
            fresh = list(range(len(seqs)))
            order_rng.shuffle(fresh)
            order += fresh
        picked, order = order[:batch_size], order[batch_size:]
        ids, mask, labels = _batch([seqs[i] for i in picked], int(pad))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {float(loss.detach())} at step {step + 1}; "
                                     "lower lr.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        tokens_seen += int(mask.sum())
        if step == 0 or (step + 1) % 10 == 0:
            say(f"predict-train: step {step + 1}/{steps} loss {losses[-1]:.4f} "
                f"({time.perf_counter() - train_start:.0f} s)")
    train_seconds = time.perf_counter() - train_start
    model.eval()
    merged: Any = model.merge_and_unload()
    try:
        fingerprint.verify(full=True)
    except FrozenJudgeError as exc:
        raise FrozenJudgeError(
            f"the original model changed while its copy was trained ({exc}); nothing was "
            "saved. The copy must share no tensor with the original."
        ) from exc

    out.mkdir(parents=True, exist_ok=True)
    try:
        merged.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        reloaded = transformers.AutoModelForCausalLM.from_pretrained(str(out),
                                                                     dtype=torch.float32)
        new_digest = WeightFingerprint(reloaded).digest
        if new_digest == fingerprint.digest:
            raise ValueError("training did not change a single weight (lr too small or no "
                             "steps); the copy would be the original.")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    record: dict[str, Any] = {
        "kind": "prediction-training",
        "base_model": base_name,
        "base_fingerprint": fingerprint.digest,
        "fingerprint": new_digest,
        "dtype": "float32",
        "corpus_sha256": corpus_sha256,
        "texts": len(texts),
        "label": label,
        "steps": len(losses),
        "steps_requested": steps,
        "stopped_by": stopped_by,
        "max_minutes": max_minutes,
        "lr": lr,
        "rank": rank,
        "alpha": alpha or 2 * rank,
        "target_modules": list(target_modules),
        "batch_size": batch_size,
        "max_tokens": max_tokens,
        "seed": seed,
        "tokens_seen": tokens_seen,
        "train_seconds": round(train_seconds, 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "torch_threads": torch.get_num_threads(),
        "loss": [round(v, 6) for v in losses],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": peft.__version__},
    }
    (out / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n")
    say(f"predict-train: saved {out} (fingerprint {new_digest[:16]}), {len(losses)} steps in "
        f"{train_seconds:.0f} s, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    return record
