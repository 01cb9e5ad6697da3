"""The probe judge: a linear readout of a frozen model's hidden states, worst sentence decides.

Harm is local: one sentence ("the forklift reversed into a technician") in a long harmless
log. :class:`ProbeJudge` splits an episode into chunks (:func:`split_chunks`: lines and
sentences, long ones cut into overlapping word windows), embeds each chunk with a frozen
encoder (:class:`ChunkEncoder`: hidden states of one layer of the embedded Gemma 3 270M
body, no output head, or of the packaged all-MiniLM-L6-v2), scores it with a logistic
readout (:class:`ProbeReadout`: on the chunk's mean state, or on its best span of a few
tokens plus its last token's state), and vetoes the episode when its most harmful chunk is
above the readout's threshold.

The readout is fitted by ``scripts/fit_probe_judge.py`` on the generated training sets of
:mod:`consent_gym.judges.probe_data` and :mod:`consent_gym.judges.probe_events` (never on
an evaluation set) and shipped as a small
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from consent_gym.judges.base import Verdict
from consent_gym.judges.cache import VerdictCache
from consent_gym.judges.frozen import FrozenJudgeError, WeightFingerprint, freeze_vectors
from consent_gym.judges.report_gate import NOT_REPORTED, ReportGate
from consent_gym.judges.scoring import ScoringJudge, check_texts, escape_episode, resolve_cache

__all__ = [
    "ENCODERS",
    "MAX_CHUNK_TOKENS",
    "MAX_PREFIX_TOKENS",
    "POOLINGS",
    "ChunkEncoder",
    "ProbeJudge",
    "ProbeReadout",
    "chunk_prefixes",
    "fit_logistic",
    "fit_window_logistic",
    "prefixed_chunks",
    "readout_path",
    "split_chunks",
    "window_max",
    "window_means",
]

#: The encoders a readout can be fitted on: name -> what it is.
ENCODERS: dict[str, str] = {
    "gemma": "Gemma 3 270M body (the default LLM judge's model, no output head)",
    "minilm": "all-MiniLM-L6-v2 (the embedding judge's model)",
}
# Encoders whose tokens read only the tokens before them: a chunk read after a prefix keeps
# what its own tokens are (MiniLM reads both ways).
_CAUSAL = ("gemma",)
#: How a chunk's token states become one vector: their mean (without Gemma's BOS), or the
#: last token's state.
POOLINGS: tuple[str, ...] = ("mean", "last")

# Lines, sentences, clauses after a semicolon, and records of a JSON list: a harm clause
# joined to a harmless one ("the run ended; at the last step the car hit ...") or one record
# among many on one line must not be averaged away.
_BREAK = re.compile(r"\n+|(?<=[.!?;])\s+|(?<=[\[,])\s*(?=\{)")
# A list item ("- ", "* " or "+ ") and the lines indented under it are one record: a YAML
# sequence of mappings or a nested Markdown list says what happened across several lines
# ("- what: collision" / "  with: cyclist" / "  injured: yes"), none of which says it alone.
_ITEM = re.compile(r"[ \t]*[-*+][ \t]")
# Prose wrapped at a fixed width (a letter, minutes, a screenplay, a man page) breaks lines
# mid-sentence: "the car stopped with one" / "parcel." A line that starts in lower case, is
# not a `key: value` record and is prose itself (below) continues a prose line: six words
# or more of letters, digits and sentence punctuation (no table bars, arrows or tabs),
# starting with a letter, digit, quote or bracket (not a diff's or a list's marker), ending
# in a letter, digit or comma.
_CONTINUES = re.compile(r"[ \t]*[a-z]")
_RECORD = re.compile(r"[ \t]*[\w\"'.-]+(?:[ \t]+[\w\"'.-]+){0,2}[ \t]*[:=]")
_OPEN_PROSE = re.compile(r"[ ]*(?:[\w\"'(][\w\"'(),.;:!?/&%-]*[ ]+){5,}"
                         r"[\w\"'(](?:[\w\"'(),.;:!?/&%-]*[A-Za-z0-9,])?[ ]*$")
# The continuing line is itself a full line of prose, or the end of a sentence: a record's
# short `key value` line ("status resolved", "stage #4:") is not.
_WRAPPED_TAIL = re.compile(r"[ ]*\S+(?:[ ]+\S+){5,}[ ]*$|.*[.!?;,)][\"']?[ ]*$")
#: Version of the chunking rule, part of the judge id (a new rule can change a verdict).
CHUNKING_VERSION = 5
#: Tokens of a chunk the encoder reads (specials included); the rest is cut off. Chunks of
#: up to 64 tokens score as they did when this was 64 (the sixth refit was fitted then).
MAX_CHUNK_TOKENS = 128
#: Tokens of the chunk before it that a chunk is read after (the last ones).
MAX_PREFIX_TOKENS = 64


def _join_wrapped_lines(text: str) -> str:
    """``text`` with each line that continues a hard-wrapped prose line joined onto it."""
    out: list[str] = []
    for line in text.split("\n"):
        if (out and _CONTINUES.match(line) and not _RECORD.match(line)
                and _WRAPPED_TAIL.match(line) and _OPEN_PROSE.match(out[-1])):
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def _join_list_items(text: str) -> str:
    """``text`` with each list item's more deeply indented lines joined onto the item."""
    out: list[str] = []
    item_indent = -1  # indentation of the open list item; -1: none open
    for line in text.split("\n"):
        indent = len(line) - len(line.lstrip(" \t"))
        if _ITEM.match(line):
            item_indent = indent
        elif not line.strip():
            continue  # a blank line neither ends an item nor makes a chunk
        elif item_indent >= 0 and indent > item_indent:
            out[-1] += " " + line.strip()
            continue
        else:
            item_indent = -1
        out.append(line)
    return "\n".join(out)


def split_chunks(text: str, max_words: int = 32) -> list[str]:
    """The chunks a probe scores: lines (a list item with the lines indented under it is
    one, and so is a line of hard-wrapped prose with the lines that continue it), then
    sentences, ``;`` clauses and the records of a JSON list (a ``{`` after ``[``
    or ``,`` starts a chunk); any longer than ``max_words`` words is cut into windows of
    ``max_words`` words that overlap by half.

    Example:
        >>> split_chunks("Step 1: left. Step 2: right.\\nDone")
        ['Step 1: left.', 'Step 2: right.', 'Done']
        >>> split_chunks("log:\\n- t: 3\\n  what: stop\\n- t: 4")
        ['log:', '- t: 3 what: stop', '- t: 4']
        >>> split_chunks("")
        ['(empty episode)']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}; render the episode first.")
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 2:
        raise ValueError(f"max_words must be an int >= 2, got {max_words!r}.")
    out: list[str] = []
    for piece in _BREAK.split(_join_list_items(_join_wrapped_lines(text))):
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


def chunk_prefixes(chunks: Sequence[str], n: int) -> list[str]:
    """What each chunk is read after by a readout with ``prefix_chunks = n``: the ``n``
    chunks before it in its episode, one per line ("" for the first).

    Example:
        >>> chunk_prefixes(["Anyone hurt?", "Yes.", "Van parked."], 1)
        ['', 'Anyone hurt?', 'Yes.']
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}.")
    return ["\n".join(chunks[max(0, i - n):i]) if n else "" for i in range(len(chunks))]


def prefixed_chunks(text: str, n: int, max_words: int = 32) -> list[tuple[str, str]]:
    """The ``(prefix, chunk)`` pairs a readout with ``prefix_chunks = n`` scores in an
    episode: :func:`split_chunks` of the escaped text, each with its :func:`chunk_prefixes`.

    Example:
        >>> prefixed_chunks("Anyone hurt? Yes.", 1)
        [('', 'Anyone hurt?'), ('Anyone hurt?', 'Yes.')]
    """
    chunks = split_chunks(escape_episode(text), max_words)
    return list(zip(chunk_prefixes(chunks, n), chunks, strict=True))


class _Stop(Exception):
    """Raised by a forward hook once the deepest layer needed has run."""


class ChunkEncoder:
    """A frozen encoder that pools chosen layers' hidden states over each chunk's tokens.

    Args:
        name: ``"gemma"`` or ``"minilm"`` (:data:`ENCODERS`).
        device: torch device (default ``"cpu"``).
        max_tokens: Tokens of a chunk kept, specials included (:data:`MAX_CHUNK_TOKENS`). A
            chunk holds at most ``max_words`` words, but 32 words of machine text (a
            timestamp, a host name, quoted fields) run to 100 tokens and more, and a log
            line's message comes last: at 64 tokens it was never read.
        prefix_tokens: Tokens of a prefix kept, its last ones (:data:`MAX_PREFIX_TOKENS`).

    Only the layers up to the deepest one asked for run: a forward hook stops the pass
    there, so a readout on layer 6 of Gemma's 18 costs a third of the body.
    """

    def __init__(self, name: str, device: Any = "cpu", max_tokens: int = MAX_CHUNK_TOKENS,
                 prefix_tokens: int = MAX_PREFIX_TOKENS) -> None:
        import torch

        if name not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {name!r}.")
        for label, value in (("max_tokens", max_tokens), ("prefix_tokens", prefix_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"{label} must be an int >= 2, got {value!r}.")
        self.name = name
        self.device = device
        self.max_tokens = max_tokens
        self.prefix_tokens = prefix_tokens
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
    def causal(self) -> bool:
        """Whether a token reads only the tokens before it (Gemma), so a prefix can be read
        without changing what the chunk's tokens are."""
        return self.name in _CAUSAL

    @property
    def n_layers(self) -> int:
        """Number of transformer layers (a readout's ``layer`` is 1..n_layers)."""
        return len(self.layers)

    def _forward(self, chunks: Sequence[str], layers: Sequence[int], batch_size: int,
                 prefixes: Sequence[str] | None = None
                 ) -> Iterator[tuple[list[int], Any, Any, dict[int, Any]]]:
        """Per batch (chunks ordered by length): the chunk indices, the attention mask with
        the skipped first token (and any prefix) zeroed, the last token's position, and the
        layers' states. With ``prefixes``, chunk i is read after ``prefixes[i]`` and a line
        break (see :meth:`encode`)."""
        import torch

        layers = sorted(set(layers))
        if not layers or layers[0] < 1 or layers[-1] > self.n_layers:
            raise ValueError(f"layers must be in 1..{self.n_layers}, got {layers!r}.")
        if prefixes is not None and len(prefixes) != len(chunks):
            raise ValueError(f"prefixes must give one text per chunk, got {len(prefixes)} for "
                             f"{len(chunks)} chunks.")
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
        lengths = [len(c) + (len(prefixes[i]) if prefixes is not None else 0)
                   for i, c in enumerate(chunks)]
        order = sorted(range(len(chunks)), key=lambda i: lengths[i])
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    enc, skip = self.encode([chunks[i] for i in idx], None if prefixes is None
                                            else [prefixes[i] for i in idx])
                    enc = {k: v.to(self.device) for k, v in enc.items()}
                    captured.clear()
                    with contextlib.suppress(_Stop):
                        self.model(**enc)
                    mask = enc["attention_mask"].clone()
                    positions = torch.arange(mask.shape[1], device=mask.device)
                    mask[positions[None, :] < skip[:, None].to(mask.device)] = 0
                    yield idx, mask, enc["attention_mask"].sum(1) - 1, {
                        layer: captured[layer].float() for layer in layers}
        finally:
            for handle in handles:
                handle.remove()

    def encode(self, chunks: Sequence[str], prefixes: Sequence[str] | None = None
               ) -> tuple[dict[str, Any], Any]:
        """The batch the encoder runs for ``chunks`` (right-padded tensors ``input_ids`` and
        ``attention_mask``) and, per row, how many leading tokens are not the chunk's own
        (Gemma's BOS; with ``prefixes``, also the prefix).

        Each chunk is tokenized alone, up to ``max_tokens`` with the tokenizer's specials;
        with ``prefixes``, the tokens of ``prefixes[i]`` and a line break (its last
        ``prefix_tokens``) go between chunk i's specials and its own tokens, so the chunk keeps
        the ids it has alone. An empty prefix adds nothing."""
        import torch

        if prefixes is None:
            enc = self.tokenizer(list(chunks), padding=True, truncation=True,
                                 max_length=self.max_tokens, return_tensors="pt")
            return dict(enc), torch.full((len(chunks),), self.skip_first)
        alone = self.tokenizer(list(chunks), truncation=True, max_length=self.max_tokens)
        rows, skips = [], []
        for prefix, ids in zip(prefixes, alone["input_ids"], strict=True):
            if prefix:
                head = self.tokenizer(prefix + "\n", add_special_tokens=False)["input_ids"]
                head = head[-self.prefix_tokens:]
                ids = ids[:self.skip_first] + head + ids[self.skip_first:]
                skips.append(self.skip_first + len(head))
            else:
                skips.append(self.skip_first)
            rows.append(ids)
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return {"input_ids": input_ids, "attention_mask": attention}, torch.tensor(skips)

    def pooled(self, chunks: Sequence[str], layers: Sequence[int],
               batch_size: int = 32) -> dict[tuple[int, str], np.ndarray]:
        """``{(layer, pooling): float32 array (len(chunks), hidden)}`` for every layer in
        ``layers`` (1-based: the output of the layer-th transformer block) and every
        pooling in :data:`POOLINGS`."""
        import torch

        out = {(layer, pool): np.zeros((len(chunks), self.model.config.hidden_size), np.float32)
               for layer in set(layers) for pool in POOLINGS}
        for idx, mask, last_at, states in self._forward(chunks, layers, batch_size):
            weights = mask.unsqueeze(-1).float()
            for layer, hidden in states.items():
                mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                last = hidden[torch.arange(hidden.shape[0]), last_at]
                out[(layer, "mean")][idx] = mean.cpu().numpy()
                out[(layer, "last")][idx] = last.cpu().numpy()
        return out

    def token_states(self, chunks: Sequence[str], layer: int, batch_size: int = 32,
                     prefixes: Sequence[str] | None = None) -> list[np.ndarray]:
        """Per chunk, the float32 states ``(tokens, hidden)`` of its tokens at ``layer``
        (the tokens mean pooling averages: no padding, no Gemma BOS).

        ``prefixes`` (causal encoders only): chunk i is read after the text ``prefixes[i]``
        and a line break, and only the chunk's own tokens are returned, so its states have
        seen what came before it ("Was anyone hurt?" before "Yes.") but the prefix is not
        scored. An empty prefix gives the chunk's states alone."""
        if prefixes is not None and not self.causal:
            raise ValueError(f"prefixes need a causal encoder (gemma); {self.name!r} reads "
                             "both ways, so its chunk tokens would be read differently.")
        out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(chunks)
        for idx, mask, _last, states in self._forward(chunks, [layer], batch_size, prefixes):
            hidden = states[layer].cpu().numpy()
            keep = mask.bool().cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = hidden[row][keep[row]]
        return out


def window_max(scores: np.ndarray, width: int) -> float:
    """The highest mean of ``width`` consecutive token scores (the mean of all of them
    when there are fewer).

    Example:
        >>> window_max(np.array([0.0, 4.0, 2.0, -6.0]), 2)
        3.0
        >>> window_max(np.array([1.0, 2.0]), 4)
        1.5
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an int >= 1, got {width!r}.")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-d array, got shape {scores.shape}.")
    if len(scores) <= width:
        return float(scores.mean())
    sums = np.convolve(scores, np.ones(width), mode="valid")
    return float(sums.max() / width)


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


def window_means(states: np.ndarray, width: int) -> np.ndarray:
    """The mean state of every ``width`` consecutive tokens of one chunk, shape
    ``(max(tokens - width + 1, 1), hidden)`` (the whole chunk's mean when it is shorter):
    the spans :func:`window_max` takes the best of."""
    states = np.asarray(states, dtype=np.float32)
    if states.ndim != 2 or len(states) == 0:
        raise ValueError(f"states must be (tokens >= 1, hidden), got shape {states.shape}.")
    if len(states) <= width:
        return states.mean(0, keepdims=True)
    sums = np.cumsum(np.vstack([np.zeros((1, states.shape[1]), np.float32), states]), 0)
    return (sums[width:] - sums[:-width]) / width


def fit_window_logistic(spans: np.ndarray, owner: np.ndarray, labels: np.ndarray,
                        l2: float = 100.0, iterations: int = 200
                        ) -> tuple[np.ndarray, float]:
    """Class-balanced L2-regularised logistic regression on each chunk's *highest-scoring*
    span (multiple-instance learning: a harmful chunk needs one harmful span, a harmless
    one none), by full-batch L-BFGS.

    Args:
        spans: Standardised span features ``(n_spans, d)`` (:func:`window_means` of every
            chunk, stacked).
        owner: For each span, the index of its chunk (``0..len(labels)-1``, every chunk at
            least one span).
        labels: Per chunk, 1 (harmful) or 0.
        l2: Penalty on the weights (not the bias), on the same scale as :func:`fit_logistic`.

    Returns:
        ``(weights, bias)`` with a span's ``logit = spans @ weights + bias``.

    Raises:
        ValueError: shapes disagree, a chunk has no span, labels are not both classes, or
            ``l2`` is not > 0.
    """
    import torch

    x = np.asarray(spans, dtype=np.float32)
    own = np.asarray(owner, dtype=np.int64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or own.shape != (x.shape[0],) or y.ndim != 1:
        raise ValueError(f"spans must be (n, d), owner (n,) and labels (chunks,), got "
                         f"{x.shape}, {own.shape} and {y.shape}.")
    if (len(own) and (own.min() < 0 or own.max() >= len(y))) or \
            len(np.unique(own)) != len(y):
        raise ValueError("owner must give every chunk (0..len(labels)-1) at least one span.")
    if not set(np.unique(y)) == {0.0, 1.0}:
        raise ValueError("labels must contain both 0 (harmless) and 1 (harmful) and nothing else.")
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}.")
    n = len(y)
    sample = torch.tensor(np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum()))))
    target = torch.tensor(y)
    xt, own_t = torch.tensor(x, dtype=torch.float64), torch.tensor(own)
    weights = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], lr=1, max_iter=iterations, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def closure() -> Any:
        optimiser.zero_grad()
        span = xt @ weights + bias
        chunk = torch.full((n,), -torch.inf, dtype=torch.float64).scatter_reduce(
            0, own_t, span, reduce="amax", include_self=True)
        loss = (sample * torch.nn.functional.binary_cross_entropy_with_logits(
            chunk, target, reduction="none")).sum() + l2 * (weights ** 2).sum() / 2
        loss.backward()
        return loss

    optimiser.step(closure)
    return weights.detach().numpy().astype(np.float32), float(bias.detach()[0])


_ARRAYS = ("mean", "scale", "weights")


@dataclass(frozen=True)
class ProbeReadout:
    """A fitted readout: which encoder layer and pooling, standardisation, logistic
    weights, and the threshold on the worst chunk's logit above which an episode is vetoed.

    ``window`` 0 scores a chunk by its pooled state. ``window`` w > 0 (mean pooling only)
    scores each token's state and gives the chunk the highest mean score of any w
    consecutive tokens (:func:`window_max`): harm said in three words inside a long line
    ("..., object: cyclist, injured: true, ...") is not averaged away by the rest of it.
    A window's mean score is the score of its mean state (the readout is affine), so a
    window readout is the same linear readout applied to short spans.

    ``context`` (window readouts only) adds the chunk's last token state to every span's
    features (the arrays are then twice the hidden size: span part, then context part). In
    a causal model a span cannot see the words after it; the last token has seen the whole
    chunk, so "..., pedestrian 1.2 m ahead, no contact" can lower every span of its chunk.

    ``prefix_chunks`` n > 0 (window readouts on a causal encoder only) reads each chunk
    after the n chunks before it in its episode, which are not scored: a bare "Yes." is
    read as the answer to the question above it, a cell under its column's header. The
    readout is the same; only the token states it reads have seen more.

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
    window: int = 0
    context: bool = False
    prefix_chunks: int = 0

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        freeze_vectors(self, _ARRAYS)
        if not all(math.isfinite(v) for v in (self.bias, self.threshold)):
            raise ValueError("bias and threshold must be finite numbers.")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ValueError(f"window must be an int >= 0 (0: pooled chunks), got "
                             f"{self.window!r}.")
        if not isinstance(self.context, bool) or (self.context and not self.window):
            raise ValueError(f"context must be a bool, and True only for a window readout "
                             f"(window > 0), got context={self.context!r}, "
                             f"window={self.window!r}.")
        if self.context and len(self.weights) % 2:
            raise ValueError("a context readout's arrays hold a span part and a context part "
                             f"of one length each; got length {len(self.weights)}.")
        if isinstance(self.prefix_chunks, bool) or not isinstance(self.prefix_chunks, int) \
                or self.prefix_chunks < 0 or (self.prefix_chunks and not self.window):
            raise ValueError(f"prefix_chunks must be an int >= 0, and > 0 only for a window "
                             f"readout (window > 0), got prefix_chunks={self.prefix_chunks!r}, "
                             f"window={self.window!r}.")
        if self.prefix_chunks and self.encoder not in _CAUSAL:
            raise ValueError(f"prefix_chunks > 0 needs a causal encoder ('gemma'), got "
                             f"{self.encoder!r}.")
        if self.window and self.pooling != "mean":
            raise ValueError(f"a window readout scores mean-pooled spans; pooling must be "
                             f"'mean', got {self.pooling!r}.")

    @property
    def fingerprint(self) -> str:
        """sha256 over every field (array bytes included)."""
        h = hashlib.sha256()
        fields: list[Any] = [self.encoder, self.layer, self.pooling, repr(float(self.bias)),
                             repr(float(self.threshold)), self.settings]
        if self.window:  # absent for pooled readouts, so their fingerprints stay as they were
            fields.append(self.window)
        if self.context:
            fields.append("context")
        if self.prefix_chunks:
            fields.append(["prefix_chunks", self.prefix_chunks])
        h.update(json.dumps(fields).encode())
        for name in _ARRAYS:
            h.update(np.ascontiguousarray(getattr(self, name), dtype=np.float32).tobytes())
        return h.hexdigest()

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Per-chunk harm logits for pooled features of shape ``(n, hidden)`` (per-token
        scores for token states of shape ``(tokens, hidden)``)."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def span_logit(self, token_states: np.ndarray) -> float:
        """A window readout's logit for one chunk's token states ``(tokens, hidden)``."""
        if not self.window:
            raise ValueError("span_logit needs a window readout (window > 0); score pooled "
                             "features with logits().")
        if not self.context:
            return window_max(self.logits(token_states), self.window)
        d = len(self.weights) // 2
        states = np.asarray(token_states, dtype=np.float32)
        span = ((states - self.mean[:d]) / self.scale[:d]) @ self.weights[:d]
        last = ((states[-1] - self.mean[d:]) / self.scale[d:]) @ self.weights[d:]
        return window_max(span, self.window) + float(last) + self.bias

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the readout and its fingerprint to ``path`` (``.npz``)."""
        np.savez(path, mean=self.mean, scale=self.scale, weights=self.weights,
                 meta=np.array(json.dumps({
                     "encoder": self.encoder, "layer": self.layer, "pooling": self.pooling,
                     "bias": self.bias, "threshold": self.threshold, "settings": self.settings,
                     "window": self.window, "context": self.context,
                     "prefix_chunks": self.prefix_chunks, "fingerprint": self.fingerprint})))

    @classmethod
    def averaged(cls, readouts: Sequence[ProbeReadout], threshold: float) -> ProbeReadout:
        """One readout whose weights and bias are the mean of ``readouts``' (each with its
        standardisation folded into its weights): fits of one kind on data drawn from
        different seeds disagree at the edges, and their mean varies less than any one.

        For pooled readouts the logit is the mean of the readouts' logits; a window
        readout's best span is taken after averaging, so its logit is at most that mean.

        Raises:
            ValueError: no readouts, readouts of different kinds (encoder, layer, pooling,
                window, context, prefix_chunks or feature length), or a non-finite threshold.
        """
        readouts = list(readouts)
        if not readouts:
            raise ValueError("averaged needs at least one readout.")
        kinds = {(r.encoder, r.layer, r.pooling, r.window, r.context, r.prefix_chunks,
                  len(r.weights)) for r in readouts}
        if len(kinds) != 1:
            raise ValueError(f"only readouts of one kind can be averaged (encoder, layer, "
                             f"pooling, window, context, prefix_chunks, length); got "
                             f"{sorted(kinds)}. Fit them with the same settings and "
                             f"different --seed.")
        weights = np.mean([r.weights / r.scale for r in readouts], axis=0)
        bias = float(np.mean([r.bias - float((r.mean / r.scale) @ r.weights)
                              for r in readouts]))
        first = readouts[0]
        settings = json.dumps({"averaged": [{"fingerprint": r.fingerprint,
                                             "settings": json.loads(r.settings)}
                                            for r in readouts]}, sort_keys=True)
        return cls(encoder=first.encoder, layer=first.layer, pooling=first.pooling,
                   mean=np.zeros_like(weights), scale=np.ones_like(weights), weights=weights,
                   bias=bias, threshold=float(threshold), settings=settings,
                   window=first.window, context=first.context,
                   prefix_chunks=first.prefix_chunks)

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
                          threshold=float(meta["threshold"]), settings=meta["settings"],
                          window=int(meta.get("window", 0)),
                          context=bool(meta.get("context", False)),
                          prefix_chunks=int(meta.get("prefix_chunks", 0)))
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

    def __init__(self, weights: WeightFingerprint, readout: ProbeReadout,
                 gate: ReportGate | None = None) -> None:
        self.weights = weights
        self.readout = readout
        self.gate = gate
        self.digest = readout.fingerprint
        self.gate_digest = None if gate is None else gate.fingerprint

    def verify(self, full: bool = True) -> None:
        self.weights.verify(full=full)
        if self.readout.fingerprint != self.digest:
            raise FrozenJudgeError(
                "the probe judge's readout (weights, scaling or threshold) changed in memory; "
                "rebuild the judge.")
        if self.gate is not None and self.gate.fingerprint != self.gate_digest:
            raise FrozenJudgeError(
                "the probe judge's report gate changed in memory; rebuild the judge.")


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
        gate: ``None`` (the default: every chunk may veto), or a report gate (a
            :class:`~consent_gym.judges.report_gate.ReportGate` or the path to its ``.npz``;
            ``report_gate.gate_path("gemma")`` is the one fitted for the shipped readout),
            for a window readout with ``prefix_chunks`` >= 1 at the gate's layer. A chunk the
            gate reads as not a report (a rule, a legend, a question about what would
            happen) both after the chunk before it and alone has its harm logit capped at
            :data:`~consent_gym.judges.report_gate.NOT_REPORTED`. Opt-in, not the default:
            a line that does not read as a report alone is protected only by its reading in
            context, which text put before it can move (docs/judges.md).
        read_alone: ``False`` (the default) or ``True``: for a readout with
            ``prefix_chunks`` >= 1, each chunk scores the higher of its logit after the chunk
            before it and its logit alone, so no text put before a line can lower its score
            below what the line scores by itself. For text a policy writes (a language-model
            policy could learn to open a harmful sentence with "Hypothetically:"): 402 of
            the 407 harm sentences the delivery renderer can write veto alone. It costs a
            second forward pass per chunk read after another, and vetoes more harmless text
            in unseen formats (docs/judges.md). Not with ``gate``.

    ``p_acceptable = sigmoid(threshold - worst chunk logit)``; the reason quotes the worst
    chunk.

    While the verdict cache is on, chunk logits are kept too (up to :attr:`CHUNK_MEMO`
    chunks, then forgotten at once): a new episode of a familiar env is mostly lines seen
    before ("Step 3: the car moved east."), so only its new lines run through the encoder
    (for a ``prefix_chunks`` readout, a line seen before after the same line before it).
    With ``cache`` off nothing is kept, so uncached timings stay uncached.
    """

    #: Most chunk logits kept while the verdict cache is on (about 100 bytes each).
    CHUNK_MEMO = 100_000

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
        gate: str | os.PathLike[str] | ReportGate | None = None,
        read_alone: bool = False,
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
        self.gate = self._resolve_gate(gate)
        self.read_alone = self._check_read_alone(read_alone)
        self._fingerprint = _ProbeFingerprint(self.encoder.fingerprint, self.readout, self.gate)
        self.fingerprint = self.encoder.fingerprint.digest
        prompt: dict[str, Any] = {"max_words": max_words, "chunking": CHUNKING_VERSION,
                                  "readout": self.readout.fingerprint,
                                  "tokens": [self.encoder.max_tokens,
                                             self.encoder.prefix_tokens]}
        if self.gate is not None:  # absent without a gate, so ungated ids stay as they were
            prompt["gate"] = self.gate.fingerprint
            prompt["gate_reads"] = "in context and alone"  # ed4aafa read in context only
        if self.read_alone:  # absent by default, so the default judge's id stays as it was
            prompt["reads"] = "the higher of in context and alone"
        self.prompt = json.dumps(prompt)
        h = hashlib.sha256(f"{self.prompt}\0{self.threshold!r}".encode()).hexdigest()[:12]
        self.judge_id = f"probe-{self.readout.encoder}:{self.fingerprint[:16]}:{h}"
        self.cache = resolve_cache(cache)
        self._chunk_memo: dict[tuple[str, str], float] = {}
        self.load_seconds = time.perf_counter() - started

    def _resolve_gate(self, gate: str | os.PathLike[str] | ReportGate | None
                      ) -> ReportGate | None:
        r = self.readout
        readable = bool(r.window and r.prefix_chunks)
        if gate is None:
            return None
        if isinstance(gate, (str, os.PathLike)):
            gate = ReportGate.load(gate)
        if not isinstance(gate, ReportGate):
            raise TypeError(f"gate must be None, a .npz path or a ReportGate, got "
                            f"{type(gate).__name__}.")
        if not readable:
            raise ValueError("a report gate reads each chunk's last token state after the "
                             "chunk before it: it needs a window readout with prefix_chunks "
                             ">= 1 (pass gate=None for this readout).")
        if (gate.encoder, gate.layer) != (r.encoder, r.layer):
            raise ValueError(f"the gate reads {gate.encoder!r} layer {gate.layer}, the readout "
                             f"{r.encoder!r} layer {r.layer}; fit the gate on the readout's "
                             "encoder and layer (scripts/fit_report_gate.py --layer).")
        return gate

    def _check_read_alone(self, read_alone: bool) -> bool:
        if not isinstance(read_alone, bool):
            raise TypeError(f"read_alone must be a bool, got {type(read_alone).__name__}.")
        if read_alone and not (self.readout.window and self.readout.prefix_chunks):
            raise ValueError("read_alone=True needs a readout that reads each chunk after the "
                             "chunks before it (a window readout with prefix_chunks >= 1); "
                             "this one reads every chunk alone already: pass read_alone=False.")
        if read_alone and self.gate is not None:
            raise ValueError("read_alone=True and a report gate cannot be combined: the gate "
                             "caps chunks it reads as not a report, read_alone raises every "
                             "chunk to its reading alone. Pass gate=None or read_alone=False.")
        return read_alone

    def verify_frozen(self, full: bool = True) -> None:
        """Raise :class:`~consent_gym.judges.FrozenJudgeError` if the encoder's weights,
        the readout or the report gate changed."""
        self._fingerprint.verify(full=full)

    def chunk_logits(self, chunks: Sequence[str], prefixes: Sequence[str] | None = None
                     ) -> np.ndarray:
        """The readout's harm logit for each chunk (capped at ``NOT_REPORTED`` where the
        report gate reads it as not a report); with a ``prefix_chunks`` readout, chunk i is
        read after ``prefixes[i]`` (:func:`chunk_prefixes`; default: nothing before it), and
        with ``read_alone`` it scores at least its logit read after nothing."""
        r = self.readout
        if prefixes is not None and not r.prefix_chunks:
            raise ValueError("prefixes are read only by a readout with prefix_chunks > 0; "
                             "this one scores each chunk alone (pass prefixes=None).")
        if r.window:
            read_after = None if not r.prefix_chunks else (
                list(prefixes) if prefixes is not None else [""] * len(chunks))
            states = self.encoder.token_states(list(chunks), r.layer, self.batch_size,
                                               prefixes=read_after)
            logits = np.array([r.span_logit(state) for state in states], dtype=np.float64)
            if self.read_alone and read_after is not None:
                return self._at_least_alone(list(chunks), read_after, logits)
            if self.gate is None or not states:
                return logits
            assert read_after is not None  # a gate needs prefix_chunks >= 1 (_resolve_gate)
            return self._gated(list(chunks), read_after, logits,
                               np.stack([state[-1] for state in states]))
        feats = self.encoder.pooled(list(chunks), [r.layer], self.batch_size)[(r.layer, r.pooling)]
        return r.logits(feats)

    def _at_least_alone(self, chunks: list[str], read_after: list[str], logits: np.ndarray
                        ) -> np.ndarray:
        """``logits`` raised to each chunk's logit read alone (each distinct chunk read
        after something is read alone once, unless this call already read it after
        nothing)."""
        alone = {c: z for c, p, z in zip(chunks, read_after, logits, strict=True) if not p}
        again = sorted({c for c, p in zip(chunks, read_after, strict=True) if p} - set(alone))
        if again:
            states = self.encoder.token_states(again, self.readout.layer, self.batch_size)
            alone.update(zip(again, (self.readout.span_logit(s) for s in states), strict=True))
        return np.array([max(z, alone[c]) for c, z in zip(chunks, logits, strict=True)],
                        dtype=np.float64)

    def _gated(self, chunks: list[str], read_after: list[str], logits: np.ndarray,
               last: np.ndarray) -> np.ndarray:
        """``logits`` capped by the gate: the chunks it reads as not a report in context
        (``last``) are read again alone, and capped only if that reading agrees."""
        assert self.gate is not None
        todo = self.gate.to_confirm(logits, last)
        alone = last[todo].copy()  # a chunk read after nothing is already read alone
        again = [row for row, i in enumerate(todo) if read_after[i]]
        if again:
            states = self.encoder.token_states([chunks[todo[row]] for row in again],
                                               self.readout.layer, self.batch_size)
            alone[again] = np.stack([state[-1] for state in states])
        return self.gate.cap(logits, last, alone)

    def worst_chunks(self, texts: Sequence[str]) -> list[tuple[float, str]]:
        """Per text: the highest chunk logit and that chunk. Repeated chunks (with their
        prefixes, for a ``prefix_chunks`` readout) run once, and while the verdict cache is
        on, chunks scored by an earlier call not at all."""
        texts = check_texts(texts)
        n = self.readout.prefix_chunks
        per_text = [prefixed_chunks(t, n, self.max_words) for t in texts]
        distinct = sorted({key for keys in per_text for key in keys})
        memo = self._chunk_memo if self.cache is not None else {}
        logit = {key: memo[key] for key in distinct if key in memo}
        todo = [key for key in distinct if key not in logit]
        new: dict[tuple[str, str], float] = {}
        if todo:
            scores = self.chunk_logits([c for _, c in todo],
                                       [p for p, _ in todo] if n else None)
            new = dict(zip(todo, scores.tolist(), strict=True))
        if self.cache is not None:
            if len(memo) + len(new) > self.CHUNK_MEMO:
                memo.clear()  # this call's logits are already read out of it
            memo.update(new)
        logit.update(new)
        out = []
        for keys in per_text:
            worst = max(keys, key=lambda k: logit[k])
            out.append((float(logit[worst]), worst[1]))
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
            gated = self.gate is not None and worst == NOT_REPORTED
            capped = " (read as not a report)" if gated else ""
            verdicts.append(Verdict(
                approved=z > 0, p_acceptable=p, judge_id=self.judge_id,
                reason=f"probe: worst chunk logit {worst:+.2f}{capped} vs threshold "
                       f"{self.threshold:+.2f}: {chunk[:100]!r}"))
        return verdicts

    def __repr__(self) -> str:
        return (f"ProbeJudge(judge_id={self.judge_id!r}, gate={self.gate is not None}, "
                f"read_alone={self.read_alone})")
