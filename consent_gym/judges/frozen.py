"""Frozen weights: fingerprint a model's parameters and detect any change.

A judge is only a fixed reference point if its weights never move. :class:`WeightFingerprint`
hashes every parameter (and buffer) byte of a ``torch.nn.Module`` once, at construction; the
*full* check re-hashes everything (about a second per GB), the *cheap* check runs on every
batch and looks at three things that together catch any ordinary in-place edit:

- each tensor's autograd version counter (bumped by every in-place op on the parameter),
- each tensor's storage address and shape (catches ``param.data = new_tensor``),
- a sha256 over a deterministic strided sample of every tensor (catches edits made through
  ``param.data``, which bypass the version counter, as long as a sampled element changed;
  the full check catches the rest).

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(3, 2)
    >>> fp = WeightFingerprint(layer)
    >>> fp.verify(full=True)
    >>> with torch.no_grad():
    ...     _ = layer.weight.add_(1.0)
    >>> try:
    ...     fp.verify(full=False)
    ... except FrozenJudgeError as exc:
    ...     print("changed:", "weight" in str(exc))
    changed: True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

#: Elements hashed per tensor by the cheap check.
SAMPLE_PER_TENSOR = 2048


class FrozenJudgeError(RuntimeError):
    """A judge's weights (or its frozen state) changed after it was fingerprinted."""


def freeze_vectors(record: Any, names: Sequence[str]) -> None:
    """Replace each named field of the frozen dataclass ``record`` by a read-only float32
    copy (a fitted readout's standardisation and weights), so nothing edits it in place
    unnoticed.

    Raises:
        ValueError: the fields are not all 1-d arrays of one length.
    """
    shapes = {name: np.shape(getattr(record, name)) for name in names}
    if len(set(shapes.values())) != 1 or len(shapes[names[0]]) != 1:
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        raise ValueError(f"{listed} must be 1-d of one length, got {shapes}.")
    for name in names:
        array = np.array(getattr(record, name), dtype=np.float32)
        array.setflags(write=False)
        object.__setattr__(record, name, array)


def _named_tensors(module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    seen: set[int] = set()
    out: list[tuple[str, torch.Tensor]] = []
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        key = id(tensor)
        if key in seen:  # tied weights (e.g. lm_head == embed_tokens) count once
            continue
        seen.add(key)
        out.append((name, tensor))
    out.sort(key=lambda item: item[0])
    return out


def _tensor_bytes(tensor: torch.Tensor) -> memoryview:
    import torch

    flat = tensor.detach().contiguous().reshape(-1).cpu()
    if flat.dtype == torch.bfloat16 or flat.dtype == torch.float16:
        flat = flat.view(torch.int16)
    elif flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.numpy().data


def _sample(tensor: torch.Tensor, n: int = SAMPLE_PER_TENSOR) -> torch.Tensor:
    flat = tensor.detach().reshape(-1)
    if flat.numel() <= n:
        return flat
    step = flat.numel() // n
    return flat[:: max(step, 1)][:n]


def full_digest(module: torch.nn.Module) -> str:
    """sha256 over the names, shapes, dtypes and bytes of every parameter and buffer."""
    h = hashlib.sha256()
    for name, tensor in _named_tensors(module):
        h.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}\n".encode())
        h.update(_tensor_bytes(tensor))
    return h.hexdigest()


def sample_digest(module: torch.nn.Module) -> str:
    """sha256 over a deterministic strided sample of every tensor (fast)."""
    h = hashlib.sha256()
    for name, tensor in _named_tensors(module):
        h.update(f"{name}|{tuple(tensor.shape)}\n".encode())
        h.update(_tensor_bytes(_sample(tensor)))
    return h.hexdigest()


def freeze(module: torch.nn.Module) -> None:
    """Turn gradients off and put ``module`` in eval mode, in place."""
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)


class WeightFingerprint:
    """The fingerprint of a frozen module, with a cheap and a full re-check.

    Args:
        module: The model; it is frozen (``requires_grad=False``, ``eval()``) here.

    Attributes:
        digest: sha256 hex digest over all parameter and buffer bytes.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        freeze(module)
        self.module = module
        self.digest = full_digest(module)
        self._sample = sample_digest(module)
        self._meta = self._metadata()

    def _metadata(self) -> dict[str, tuple[Any, ...]]:
        return {
            name: (t._version, t.data_ptr(), tuple(t.shape), t.dtype)
            for name, t in _named_tensors(self.module)
        }

    def verify(self, full: bool = True) -> None:
        """Raise :class:`FrozenJudgeError` if anything changed since construction.

        Args:
            full: ``True`` re-hashes every byte (use at the start and end of training);
                ``False`` runs the cheap check (version counters, storage, a sample).
        """
        if self.module.training:
            raise FrozenJudgeError(
                "the judge model was switched to train mode; a frozen judge stays in eval()."
            )
        grads = [n for n, p in self.module.named_parameters() if p.requires_grad]
        if grads:
            raise FrozenJudgeError(
                f"gradients were re-enabled on judge parameters {grads[:3]}; "
                "a frozen judge must keep requires_grad=False."
            )
        meta = self._metadata()
        if meta.keys() != self._meta.keys():
            raise FrozenJudgeError("the judge model's set of parameters changed.")
        changed = [name for name, m in meta.items() if m != self._meta[name]]
        if changed:
            raise FrozenJudgeError(
                f"judge weights were modified in place ({', '.join(changed[:3])}); the judge "
                "is no longer the checkpoint it was fingerprinted as. Rebuild the judge."
            )
        if sample_digest(self.module) != self._sample:
            raise FrozenJudgeError(
                "judge weights changed (sampled-bytes check failed); rebuild the judge."
            )
        if full and full_digest(self.module) != self.digest:
            raise FrozenJudgeError(
                "judge weights changed (full sha256 differs from the construction-time "
                "fingerprint); rebuild the judge."
            )
