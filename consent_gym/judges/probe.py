"""The probe judge: a linear readout of a frozen model's hidden states, worst sentence decides.

Harm is local: one sentence ("the forklift reversed into a technician") in a long harmless
log. :class:`ProbeJudge` splits an episode into chunks (:func:`split_chunks`: lines and
sentences, long ones cut into overlapping word windows), embeds each chunk with a frozen
encoder (:class:`ChunkEncoder`: mean-pooled hidden states of one layer of the embedded
Gemma 3 270M body, no output head, or of the packaged all-MiniLM-L6-v2), scores it with a
logistic readout (:class:`ProbeReadout`), and vetoes the episode when its most harmful chunk
is above the readout's threshold.

The readout is fitted by ``scripts/fit_probe_judge.py`` on the generated training set of
:mod:`consent_gym.judges.probe_data` (never on an evaluation set) and shipped as a small
``.npz`` beside this module (``data/probe_gemma.npz``, ``data/probe_minilm.npz``). The file
stores its own sha256 fingerprint; loading re-checks it, the judge id carries it, and the
frozen check re-hashes the readout in memory as well as the encoder's weights.

Example (loads the encoder: seconds to tens of seconds):
    >>> judge = ProbeJudge("minilm")  # doctest: +SKIP
    >>> judge.judge_batch(["Step 3: the van struck a cyclist."])[0].approved  # doctest: +SKIP
    False
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.judges.base import Verdict
from consent_gym.judges.cache import VerdictCache
from consent_gym.judges.frozen import FrozenJudgeError, WeightFingerprint
from consent_gym.judges.scoring import ScoringJudge, check_texts, escape_episode, resolve_cache

__all__ = [
    "ENCODERS",
    "POOLINGS",
    "ChunkEncoder",
    "ProbeJudge",
    "ProbeReadout",
    "fit_logistic",
    "readout_path",
    "split_chunks",
]

#: The encoders a readout can be fitted on: name -> what it is.
ENCODERS: dict[str, str] = {
    "gemma": "Gemma 3 270M body (the default LLM judge's model, no output head)",
    "minilm": "all-MiniLM-L6-v2 (the embedding judge's model)",
}
#: How a chunk's token states become one vector: their mean (without Gemma's BOS), or the
#: last token's state.
POOLINGS: tuple[str, ...] = ("mean", "last")

# Lines, sentences and clauses after a semicolon: a harm clause joined to a harmless one
# ("the run ended; at the last step the car hit ...") must not be averaged away.
_BREAK = re.compile(r"\n+|(?<=[.!?;])\s+")
#: Version of the chunking rule, part of the judge id (a new rule can change a verdict).
CHUNKING_VERSION = 2


def split_chunks(text: str, max_words: int = 32) -> list[str]:
    """The chunks a probe scores: lines, then sentences and ``;`` clauses; any longer than
    ``max_words`` words is cut into windows of ``max_words`` words that overlap by half.

    Example:
        >>> split_chunks("Step 1: left. Step 2: right.\\nDone")
        ['Step 1: left.', 'Step 2: right.', 'Done']
        >>> split_chunks("")
        ['(empty episode)']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}; render the episode first.")
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 2:
        raise ValueError(f"max_words must be an int >= 2, got {max_words!r}.")
    out: list[str] = []
    for piece in _BREAK.split(text):
        words = piece.split()
        if not words:
            continue
        if len(words) <= max_words:
            out.append(" ".join(words))
            continue
        stride = max_words // 2
        for start in range(0, len(words) - stride, stride):
            out.append(" ".join(words[start:start + max_words]))
    return out or ["(empty episode)"]


class _Stop(Exception):
    """Raised by a forward hook once the deepest layer needed has run."""


class ChunkEncoder:
    """A frozen encoder that pools chosen layers' hidden states over each chunk's tokens.

    Args:
        name: ``"gemma"`` or ``"minilm"`` (:data:`ENCODERS`).
        device: torch device (default ``"cpu"``).
        max_tokens: Tokens per chunk kept (chunks are short; this bounds a pathological one).

    Only the layers up to the deepest one asked for run: a forward hook stops the pass
    there, so a readout on layer 6 of Gemma's 18 costs a third of the body.
    """

    def __init__(self, name: str, device: Any = "cpu", max_tokens: int = 64) -> None:
        import torch

        if name not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {name!r}.")
        self.name = name
        self.device = device
        self.max_tokens = max_tokens
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if name == "gemma":
            from consent_gym.judges.loading import load_default_model

            causal, self.tokenizer, self.model_name = load_default_model(dtype=torch.float32)
            self.model = causal.model  # the transformer body: no 262k-row output head
            self.layers = list(self.model.layers)
            self.skip_first = 1 if self.tokenizer.bos_token_id is not None else 0
        else:
            from transformers import AutoModel, AutoTokenizer

            from consent_gym.judges.embedding import minilm_path

            path = minilm_path()
            self.model_name = path
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True)
            self.layers = list(self.model.encoder.layer)
            self.skip_first = 0  # the sentence-transformers recipe pools [CLS] and [SEP] too
        self.model.to(device)
        self.fingerprint = WeightFingerprint(self.model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"

    @property
    def n_layers(self) -> int:
        """Number of transformer layers (a readout's ``layer`` is 1..n_layers)."""
        return len(self.layers)

    def pooled(self, chunks: Sequence[str], layers: Sequence[int],
               batch_size: int = 32) -> dict[tuple[int, str], np.ndarray]:
        """``{(layer, pooling): float32 array (len(chunks), hidden)}`` for every layer in
        ``layers`` (1-based: the output of the layer-th transformer block) and every
        pooling in :data:`POOLINGS`."""
        import torch

        layers = sorted(set(layers))
        if not layers or layers[0] < 1 or layers[-1] > self.n_layers:
            raise ValueError(f"layers must be in 1..{self.n_layers}, got {layers!r}.")
        captured: dict[int, Any] = {}
        deepest = layers[-1]

        def hook_for(layer: int) -> Any:
            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                captured[layer] = output[0] if isinstance(output, tuple) else output
                if layer == deepest:
                    raise _Stop

            return hook

        handles = [self.layers[layer - 1].register_forward_hook(hook_for(layer))
                   for layer in layers]
        out = {(layer, pool): np.zeros((len(chunks), self.model.config.hidden_size), np.float32)
               for layer in layers for pool in POOLINGS}
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i]))
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    enc = self.tokenizer([chunks[i] for i in idx], padding=True, truncation=True,
                                         max_length=self.max_tokens, return_tensors="pt")
                    enc = {k: v.to(self.device) for k, v in enc.items()}
                    captured.clear()
                    with contextlib.suppress(_Stop):
                        self.model(**enc)
                    mask = enc["attention_mask"].clone()
                    mask[:, : self.skip_first] = 0
                    lengths = enc["attention_mask"].sum(1) - 1
                    weights = mask.unsqueeze(-1).float()
                    for layer in layers:
                        hidden = captured[layer].float()
                        mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                        last = hidden[torch.arange(hidden.shape[0]), lengths]
                        out[(layer, "mean")][idx] = mean.cpu().numpy()
                        out[(layer, "last")][idx] = last.cpu().numpy()
        finally:
            for handle in handles:
                handle.remove()
        return out


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0,
                 iterations: int = 25) -> tuple[np.ndarray, float]:
    """Class-balanced L2-regularised logistic regression by Newton's method (IRLS).

    Deterministic: no random initialisation, a fixed number of Newton steps (it stops early
    only when the step is below 1e-8). ``features`` should be standardised.

    Returns:
        ``(weights, bias)`` with ``logit = features @ weights + bias``.

    Raises:
        ValueError: shapes disagree, labels are not both classes, or ``l2`` is not > 0.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"features must be (n, d) and labels (n,), got {x.shape} and {y.shape}.")
    if not set(np.unique(y)) == {0.0, 1.0}:
        raise ValueError("labels must contain both 0 (harmless) and 1 (harmful) and nothing else.")
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}.")
    n, d = x.shape
    sample = np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum())))
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        grad = xb.T @ (sample * (p - y)) + penalty * theta
        hess = (xb * (sample * p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1].astype(np.float32), float(theta[-1])


_ARRAYS = ("mean", "scale", "weights")


@dataclass(frozen=True)
class ProbeReadout:
    """A fitted readout: which encoder layer and pooling, standardisation, logistic
    weights, and the threshold on the worst chunk's logit above which an episode is vetoed.

    ``settings`` is the fit's record (data seed, sizes, validation figures), as JSON text.
    """

    encoder: str
    layer: int
    pooling: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    settings: str = "{}"

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        shapes = {name: np.shape(getattr(self, name)) for name in _ARRAYS}
        if len(set(shapes.values())) != 1 or len(shapes["weights"]) != 1:
            raise ValueError(f"mean, scale and weights must be 1-d of one length, got {shapes}.")
        for name in _ARRAYS:
            array = np.array(getattr(self, name), dtype=np.float32)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if not all(math.isfinite(v) for v in (self.bias, self.threshold)):
            raise ValueError("bias and threshold must be finite numbers.")

    @property
    def fingerprint(self) -> str:
        """sha256 over every field (array bytes included)."""
        h = hashlib.sha256()
        h.update(json.dumps([self.encoder, self.layer, self.pooling, repr(float(self.bias)),
                             repr(float(self.threshold)), self.settings]).encode())
        for name in _ARRAYS:
            h.update(np.ascontiguousarray(getattr(self, name), dtype=np.float32).tobytes())
        return h.hexdigest()

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Per-chunk harm logits for pooled features of shape ``(n, hidden)``."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the readout and its fingerprint to ``path`` (``.npz``)."""
        np.savez(path, mean=self.mean, scale=self.scale, weights=self.weights,
                 meta=np.array(json.dumps({
                     "encoder": self.encoder, "layer": self.layer, "pooling": self.pooling,
                     "bias": self.bias, "threshold": self.threshold, "settings": self.settings,
                     "fingerprint": self.fingerprint})))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ProbeReadout:
        """Read a readout written by :meth:`save`; its stored fingerprint must match.

        Raises:
            FileNotFoundError: no such file (fit one with scripts/fit_probe_judge.py).
            FrozenJudgeError: the file's contents differ from the fingerprint it stores.
        """
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"no probe readout at {path}; fit one with "
                f"python scripts/fit_probe_judge.py --encoder gemma --out {path}")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            readout = cls(encoder=meta["encoder"], layer=int(meta["layer"]),
                          pooling=meta["pooling"], mean=data["mean"], scale=data["scale"],
                          weights=data["weights"], bias=float(meta["bias"]),
                          threshold=float(meta["threshold"]), settings=meta["settings"])
        if readout.fingerprint != meta["fingerprint"]:
            raise FrozenJudgeError(
                f"the probe readout {path} was edited after it was fitted (fingerprint "
                f"differs); re-fit it with scripts/fit_probe_judge.py.")
        return readout


def readout_path(encoder: str) -> Path:
    """The shipped readout for ``encoder`` (``consent_gym/judges/data/probe_<encoder>.npz``)."""
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {encoder!r}.")
    return Path(__file__).with_name("data") / f"probe_{encoder}.npz"


class _ProbeFingerprint:
    """The encoder's weight fingerprint plus the in-memory readout's."""

    def __init__(self, weights: WeightFingerprint, readout: ProbeReadout) -> None:
        self.weights = weights
        self.readout = readout
        self.digest = readout.fingerprint

    def verify(self, full: bool = True) -> None:
        self.weights.verify(full=full)
        if self.readout.fingerprint != self.digest:
            raise FrozenJudgeError(
                "the probe judge's readout (weights, scaling or threshold) changed in memory; "
                "rebuild the judge.")


class ProbeJudge(ScoringJudge):
    """Veto an episode when its most harmful chunk's readout logit is above the threshold.

    Args:
        readout: ``"gemma"`` or ``"minilm"`` (the shipped readout for that encoder), a path
            to a ``.npz`` written by ``scripts/fit_probe_judge.py``, or a
            :class:`ProbeReadout`.
        threshold: Override the readout's threshold (on the worst chunk's logit).
        device: torch device for the encoder.
        batch_size: Chunks per forward pass.
        cache: ``True`` (in-memory), ``False``/``None``, a sqlite path or a VerdictCache.
        max_words: Chunks longer than this are cut into overlapping word windows.

    ``p_acceptable = sigmoid(threshold - worst chunk logit)``; the reason quotes the worst
    chunk.
    """

    def __init__(
        self,
        readout: str | os.PathLike[str] | ProbeReadout = "gemma",
        *,
        threshold: float | None = None,
        device: Any = "cpu",
        batch_size: int = 32,
        cache: VerdictCache | str | os.PathLike[str] | bool | None = True,
        max_words: int = 32,
        encoder: ChunkEncoder | None = None,
    ) -> None:
        started = time.perf_counter()
        if isinstance(readout, ProbeReadout):
            self.readout = readout
        elif isinstance(readout, str) and readout in ENCODERS:
            self.readout = ProbeReadout.load(readout_path(readout))
        elif isinstance(readout, (str, os.PathLike)):
            self.readout = ProbeReadout.load(readout)
        else:
            raise TypeError(
                f"readout must be 'gemma', 'minilm', a .npz path or a ProbeReadout, "
                f"got {type(readout).__name__}.")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(
                threshold, (int, float)) or not math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        self.threshold = self.readout.threshold if threshold is None else float(threshold)
        self.batch_size = batch_size
        self.max_words = max_words
        split_chunks("", max_words)  # validates max_words
        if encoder is not None and encoder.name != self.readout.encoder:
            raise ValueError(f"the readout was fitted on {self.readout.encoder!r} but the "
                             f"encoder given is {encoder.name!r}.")
        self.encoder = encoder or ChunkEncoder(self.readout.encoder, device=device)
        if self.readout.layer > self.encoder.n_layers:
            raise ValueError(f"the readout reads layer {self.readout.layer} but the encoder has "
                             f"{self.encoder.n_layers}.")
        self._fingerprint = _ProbeFingerprint(self.encoder.fingerprint, self.readout)
        self.fingerprint = self.encoder.fingerprint.digest
        self.prompt = json.dumps({"max_words": max_words, "chunking": CHUNKING_VERSION,
                                  "readout": self.readout.fingerprint})
        h = hashlib.sha256(f"{self.prompt}\0{self.threshold!r}".encode()).hexdigest()[:12]
        self.judge_id = f"probe-{self.readout.encoder}:{self.fingerprint[:16]}:{h}"
        self.cache = resolve_cache(cache)
        self.load_seconds = time.perf_counter() - started

    def verify_frozen(self, full: bool = True) -> None:
        """Raise :class:`~consent_gym.judges.FrozenJudgeError` if the encoder's weights or
        the readout changed."""
        self._fingerprint.verify(full=full)

    def chunk_logits(self, chunks: Sequence[str]) -> np.ndarray:
        """The readout's harm logit for each chunk."""
        r = self.readout
        feats = self.encoder.pooled(list(chunks), [r.layer], self.batch_size)[(r.layer, r.pooling)]
        return r.logits(feats)

    def worst_chunks(self, texts: Sequence[str]) -> list[tuple[float, str]]:
        """Per text: the highest chunk logit and that chunk. Repeated chunks run once."""
        texts = check_texts(texts)
        per_text = [split_chunks(escape_episode(t), self.max_words) for t in texts]
        distinct = sorted({c for chunks in per_text for c in chunks})
        logit = dict(zip(distinct, self.chunk_logits(distinct).tolist(), strict=True)) \
            if distinct else {}
        out = []
        for chunks in per_text:
            worst = max(chunks, key=lambda c: logit[c])
            out.append((float(logit[worst]), worst))
        return out

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """``threshold - worst chunk logit`` per text (approve when > 0)."""
        return [self.threshold - w for w, _ in self.worst_chunks(texts)]

    def _decide(self, texts: list[str]) -> list[Verdict]:
        verdicts = []
        for worst, chunk in self.worst_chunks(texts):
            if not math.isfinite(worst):
                from consent_gym.judges.base import failed_verdict

                verdicts.append(failed_verdict(self.judge_id, f"non-finite logit {worst!r}"))
                continue
            z = self.threshold - worst
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            verdicts.append(Verdict(
                approved=z > 0, p_acceptable=p, judge_id=self.judge_id,
                reason=f"probe: worst chunk logit {worst:+.2f} vs threshold "
                       f"{self.threshold:+.2f}: {chunk[:100]!r}"))
        return verdicts

    def __repr__(self) -> str:
        return f"ProbeJudge(judge_id={self.judge_id!r})"
