"""Loading a judge's model: dtype choice (native bf16), device checks, the default's cache
folder. The real conversion of the embedded Gemma is tested in test_llm_gemma.py (slow)."""

from __future__ import annotations

import pytest
import torch

import consent_gym.judges.loading as loading
from consent_gym.judges.loading import (
    DTYPE_CHOICES,
    check_device,
    default_cache_dir,
    default_model_dir,
    dtype_name,
    native_bf16,
    resolve_dtype,
)


def test_dtype_names_round_trip_through_resolve_dtype():
    for name in DTYPE_CHOICES[1:]:
        assert dtype_name(resolve_dtype(name)) == name
    assert dtype_name(torch.float16) == "float16"
    assert resolve_dtype(None) is None


def test_check_device_accepts_cpu_and_names_the_fix_otherwise(monkeypatch):
    assert check_device("cpu") == torch.device("cpu")
    for bad in ("tpu", "not a device", 3.5):
        with pytest.raises(ValueError, match="'cpu'"):
            check_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        check_device("cuda")


def test_default_model_dir_lives_under_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENT_GYM_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    assert default_model_dir().parent == tmp_path / "cache"
    assert default_model_dir(tmp_path).parent == tmp_path
    assert default_model_dir(tmp_path).name.startswith("gemma-3-270m-q4_k_m-")


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ({"avx512_bf16": True, "amx_bf16": False}, True),
        ({"avx512_bf16": False, "amx_bf16": True}, True),
        ({"avx512_f": True, "avx512_bf16": False}, False),  # AVX-512 alone: bf16 is emulated
        ({"architecture": "arm64", "bf16": True}, False),  # not measured: float32
    ],
)
def test_native_bf16_reads_torchs_cpu_capabilities(monkeypatch, caps, expected):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps, raising=False)
    assert native_bf16("cpu") is expected


@pytest.mark.parametrize(("flags", "expected"), [({"fpu", "avx512_bf16"}, True),
                                                 ({"fpu", "amx_bf16"}, True),
                                                 ({"fpu", "avx512f"}, False), (set(), False)])
def test_native_bf16_falls_back_to_proc_cpuinfo(monkeypatch, flags, expected):
    monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)
    monkeypatch.setattr(loading, "_cpuinfo_flags", lambda: flags)
    assert native_bf16("cpu") is expected


def test_native_bf16_on_cuda_asks_torch_without_emulation(monkeypatch):
    asked = []

    def supported(including_emulation=True):
        asked.append(including_emulation)
        return True

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert native_bf16("cuda") is True and asked == [False]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert native_bf16("cuda:0") is False
    assert native_bf16("mps") is False


def test_old_import_paths_still_work():
    """Loading and the scoring base moved out of llm.py; its old names are re-exported."""
    import consent_gym.judges.scoring as scoring
    from consent_gym.judges import LLMJudge, llm

    for name in ("DTYPE_CHOICES", "default_cache_dir", "load_default_model", "native_bf16",
                 "resolve_dtype"):
        assert name in llm.__all__ and getattr(llm, name) is getattr(loading, name)
    assert "escape_episode" in llm.__all__ and llm.escape_episode is scoring.escape_episode
    assert issubclass(LLMJudge, scoring.ScoringJudge)


def test_load_causal_lm_casts_a_loaded_model_only_when_asked(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from consent_gym.judges.loading import is_explicit_dtype, load_causal_lm

    assert [is_explicit_dtype(d) for d in (None, "auto", " AUTO ", "float32", torch.bfloat16)] == [
        False, False, False, True, True]
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    same, tok, name = load_causal_lm(model, tokenizer, "auto", torch.bfloat16)
    assert same is model and tok is tokenizer and name == type(model).__name__
    assert next(model.parameters()).dtype == torch.float32
    load_causal_lm(model, tokenizer, "bfloat16", torch.bfloat16)
    assert next(model.parameters()).dtype == torch.bfloat16
    loaded, tok, name = load_causal_lm(tiny_model_dir, None, None, None)
    assert name == str(tiny_model_dir) and tok is not None
    assert isinstance(loaded, torch.nn.Module) and loaded is not model
    with pytest.raises(ValueError, match="pass its tokenizer"):
        load_causal_lm(model, None, None, None)
    with pytest.raises(TypeError, match="model must be a folder, got int"):
        load_causal_lm(3, None, None, None, accepted="a folder")
