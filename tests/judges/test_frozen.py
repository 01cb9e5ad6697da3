"""WeightFingerprint: each way of changing a frozen module is caught, by the right check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from consent_gym.judges.frozen import (
    SAMPLE_PER_TENSOR,
    FrozenJudgeError,
    WeightFingerprint,
    freeze_vectors,
)


class WithBuffer(torch.nn.Module):
    """A layer plus a registered buffer (as normalisation statistics or rotary tables are)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 3)
        self.register_buffer("stats", torch.arange(6, dtype=torch.float32))


def fingerprinted() -> tuple[WithBuffer, WeightFingerprint]:
    torch.manual_seed(0)
    module = WithBuffer()
    fp = WeightFingerprint(module)
    fp.verify(full=True)  # untouched: both checks pass
    return module, fp


def identity(tensor: torch.Tensor) -> tuple[int, int, tuple[int, ...]]:
    """What the cheap check's metadata sees of a tensor: version, storage, shape."""
    return tensor._version, tensor.data_ptr(), tuple(tensor.shape)


def edit_param_in_place(m: WithBuffer) -> None:
    with torch.no_grad():
        m.layer.weight.add_(1e-3)


def edit_param_data(m: WithBuffer) -> None:
    m.layer.weight.data[0, 0] += 1.0  # through .data: the version counter does not move


def replace_param_data(m: WithBuffer) -> None:
    m.layer.weight.data = m.layer.weight.data.clone()  # same values, new storage


def replace_param_data_with_other_values(m: WithBuffer) -> None:
    m.layer.bias.data = torch.zeros(3)


def edit_buffer_in_place(m: WithBuffer) -> None:
    m.stats.mul_(2.0)


def edit_buffer_data(m: WithBuffer) -> None:
    m.stats.data[5] = -1.0


def replace_buffer(m: WithBuffer) -> None:
    m.stats = torch.arange(6, dtype=torch.float32)  # equal values, a new tensor


@pytest.mark.parametrize(
    "tamper",
    [
        edit_param_in_place,
        edit_param_data,
        replace_param_data,
        replace_param_data_with_other_values,
        edit_buffer_in_place,
        edit_buffer_data,
        replace_buffer,
    ],
)
@pytest.mark.parametrize("full", [False, True])
def test_every_tampering_is_caught_by_the_cheap_and_the_full_check(tamper, full):
    module, fp = fingerprinted()
    tamper(module)
    with pytest.raises(FrozenJudgeError, match=r"(?i)rebuild the judge"):
        fp.verify(full=full)


@pytest.mark.parametrize(
    ("tensor", "edit"),
    [
        ("layer.weight", lambda m: m.layer.weight.data.__setitem__((2, 3), 7.0)),
        ("stats", lambda m: m.stats.data.__setitem__(0, 7.0)),
    ],
)
def test_a_data_edit_is_caught_by_the_sampled_bytes_alone(tensor, edit):
    """A .data edit keeps the version, storage and shape: only the sample digest sees it."""
    module, fp = fingerprinted()
    target = module.get_parameter(tensor) if "weight" in tensor else module.get_buffer(tensor)
    before = identity(target)
    edit(module)
    assert identity(target) == before  # invisible to the metadata comparison
    with pytest.raises(FrozenJudgeError, match="sampled-bytes check failed"):
        fp.verify(full=False)


def test_an_unsampled_element_is_left_to_the_full_check():
    """The documented limit of the cheap check: it hashes a strided sample of big tensors."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(100, 100)  # 10000 weights: a stride of 4 samples index 0, 4, ...
    assert layer.weight.numel() > SAMPLE_PER_TENSOR
    fp = WeightFingerprint(layer)
    layer.weight.data.view(-1)[1] += 1.0
    fp.verify(full=False)  # not sampled, version and storage unchanged: passes
    with pytest.raises(FrozenJudgeError, match="full sha256 differs"):
        fp.verify(full=True)
    with pytest.raises(FrozenJudgeError, match="full sha256 differs"):
        fp.verify()  # the default is the full check


def test_mode_gradients_and_parameter_set_are_part_of_frozen():
    module, fp = fingerprinted()
    module.train()
    with pytest.raises(FrozenJudgeError, match="train mode"):
        fp.verify(full=False)
    module.eval()
    module.layer.weight.requires_grad_(True)
    with pytest.raises(FrozenJudgeError, match="gradients were re-enabled"):
        fp.verify(full=False)
    module.layer.weight.requires_grad_(False)
    module.register_buffer("extra", torch.zeros(1))
    with pytest.raises(FrozenJudgeError, match="set of parameters changed"):
        fp.verify(full=False)


def test_the_sample_covers_every_element_below_twice_its_size():
    """Between SAMPLE_PER_TENSOR and twice that, the stride is 1: the first
    SAMPLE_PER_TENSOR elements are all sampled, so a .data edit of element 1 is caught."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(100, 30)  # 3000 weights
    assert SAMPLE_PER_TENSOR < layer.weight.numel() < 2 * SAMPLE_PER_TENSOR
    fp = WeightFingerprint(layer)
    layer.weight.data.view(-1)[1] += 1.0
    with pytest.raises(FrozenJudgeError, match="sampled-bytes check failed"):
        fp.verify(full=False)


class Tied(torch.nn.Module):
    """An embedding tied to the output head (as in most LLMs), then more tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(5, 4)
        self.head = torch.nn.Linear(4, 5, bias=False)
        self.head.weight = self.embed.weight
        self.norm = torch.nn.LayerNorm(4)


@pytest.mark.parametrize("full", [False, True])
def test_tensors_after_a_tied_weight_are_still_checked(full):
    torch.manual_seed(0)
    module = Tied()
    fp = WeightFingerprint(module)
    module.norm.weight.data[0] = 3.0  # named after the tied pair: "norm.weight"
    with pytest.raises(FrozenJudgeError):
        fp.verify(full=full)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("full", [False, True])
def test_half_precision_and_bool_tensors_are_fingerprinted(dtype, full):
    """numpy has no bfloat16: half-precision bytes are hashed as int16, bools as uint8."""
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3).to(dtype)
    module.register_buffer("mask", torch.tensor([True, False, True]))
    fp = WeightFingerprint(module)
    fp.verify(full=True)
    module.mask.data[1] = True
    with pytest.raises(FrozenJudgeError):
        fp.verify(full=full)
    module.mask.data[1] = False
    fp.verify(full=True)  # restored: the same bytes again
    module.weight.data[0, 0] += 1.0
    with pytest.raises(FrozenJudgeError):
        fp.verify(full=full)


def test_tensors_after_a_parameter_aliased_as_a_buffer_are_still_checked():
    """A tensor registered twice (parameter and buffer) is hashed once; the tensors after
    the alias are still fingerprinted."""
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    module.register_buffer("alias", module.weight)
    module.register_buffer("z_last", torch.ones(4))
    fp = WeightFingerprint(module)
    module.z_last.data[2] = 5.0
    with pytest.raises(FrozenJudgeError):
        fp.verify(full=False)


def test_freeze_vectors_makes_read_only_float32_copies_of_one_length():
    @dataclasses.dataclass(frozen=True)
    class Record:
        a: object
        b: object

    given = [1, 2, 3]
    record = Record(given, np.zeros(3, np.float64))
    freeze_vectors(record, ("a", "b"))
    assert record.a.dtype == np.float32 and record.b.dtype == np.float32  # type: ignore[attr-defined]
    assert given == [1, 2, 3]  # the caller's data is copied, not changed
    with pytest.raises(ValueError, match="read-only"):
        record.a[0] = 5.0  # type: ignore[index]
    with pytest.raises(ValueError, match=r"a and b must be 1-d of one length, got \{'a': \(2,\)"):
        freeze_vectors(Record([1, 2], [1, 2, 3]), ("a", "b"))
    with pytest.raises(ValueError, match="1-d of one length"):
        freeze_vectors(Record(np.zeros((2, 2)), np.zeros((2, 2))), ("a", "b"))
