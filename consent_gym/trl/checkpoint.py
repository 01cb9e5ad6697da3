"""The policy's own start checkpoint as its judge, frozen and kept apart from training.

- A PEFT policy (LoRA adapters on a frozen base): the judge is the base model with the
  adapters left out. :func:`base_weights_view` builds a second *module tree* whose
  parameters are the very base tensors of the policy (no second copy in memory) and in
  which every adapter layer is replaced by the layer it wraps, so the judge computes exactly
  the starting weights, its fingerprint covers exactly the base weights, and putting it in
  ``eval()`` never touches the policy's modules.
- A policy trained with full fine-tuning moves every weight, so it cannot judge itself:
  :func:`start_checkpoint_judge` refuses it and asks for a separately loaded frozen copy.

:func:`check_judge_apart` is the check :class:`~consent_gym.trl.ConsentGRPOTrainer` runs at
construction: a judge model may share tensors with the policy only where the policy does
not train them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from consent_gym.judges.frozen import FrozenJudgeError
from consent_gym.judges.llm import LLMJudge

if TYPE_CHECKING:
    import torch


def is_peft_model(model: object) -> bool:
    """Whether ``model`` is a ``peft.PeftModel`` (without importing peft for other models)."""
    try:
        from peft import PeftModel
    except ImportError:  # peft not installed: nothing can be a PEFT model
        return False
    return isinstance(model, PeftModel)


def base_weights_view(peft_model: Any) -> torch.nn.Module:
    """The base model of a PEFT policy as its own module tree, sharing the base tensors.

    The module objects are copies (so ``eval()`` and ``requires_grad_(False)`` on the view
    leave the policy's modules alone); every parameter and buffer is the policy's own
    tensor; each adapter layer (LoRA and the other PEFT tuner layers) becomes the layer it
    wraps, and ``modules_to_save`` wrappers their original module.

    Raises:
        TypeError: ``peft_model`` is not a PEFT model.
        ValueError: the view still holds adapter layers or parameters the policy trains.
    """
    if not is_peft_model(peft_model):
        raise TypeError(
            f"base_weights_view needs a peft.PeftModel, got {type(peft_model).__name__}."
        )
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    base = peft_model.get_base_model()
    shared = {id(t): t for t in [*base.parameters(), *base.buffers()]}
    view: torch.nn.Module = copy.deepcopy(base, memo=dict(shared))
    # Innermost first would not matter: a tuner layer's base layer is never a tuner layer.
    for name, module in list(view.named_modules()):
        if isinstance(module, BaseTunerLayer):
            replacement = module.get_base_layer()
        elif isinstance(module, AuxiliaryTrainingWrapper):
            replacement = module.original_module
        else:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = view.get_submodule(parent_name) if parent_name else view
        setattr(parent, child, replacement)
    left = [n for n, m in view.named_modules()
            if isinstance(m, (BaseTunerLayer, AuxiliaryTrainingWrapper))]
    trained = [n for n, p in view.named_parameters() if p.requires_grad]
    if left or trained:
        raise ValueError(
            f"the base model still holds adapter layers {left[:3]} or trained parameters "
            f"{trained[:3]}; the policy's base weights must be frozen (PEFT freezes them unless "
            "modules_to_save or trainable base layers are configured)."
        )
    return view


def start_checkpoint_judge(
    policy: Any, tokenizer: Any, *, frozen_copy: Any = None, **judge_kwargs: Any
) -> LLMJudge:
    """An :class:`~consent_gym.judges.LLMJudge` on the policy's start checkpoint.

    Args:
        policy: The model GRPO will train: a ``peft.PeftModel`` (the judge is its base with
            adapters disabled, sharing the base tensors), or a plain transformers model
            trained with full fine-tuning (then ``frozen_copy`` is required).
        tokenizer: The policy's tokenizer.
        frozen_copy: For a fully fine-tuned policy: the start checkpoint loaded separately
            (``AutoModelForCausalLM.from_pretrained(path)``); it must share no tensor with
            ``policy``.
        judge_kwargs: Passed to :class:`~consent_gym.judges.LLMJudge` (``headers``,
            ``examples``, ``threshold``, ``method``, ...). ``dtype`` and ``device`` are not
            accepted for a PEFT policy: the judge's tensors are the policy's.

    Raises:
        ValueError: a fully fine-tuned policy without ``frozen_copy`` (it would judge with
            the weights being trained), or a ``frozen_copy`` that shares tensors with it.
    """
    import torch

    if not isinstance(policy, torch.nn.Module):
        raise TypeError(f"policy must be a loaded model, got {type(policy).__name__}.")
    if is_peft_model(policy):
        if frozen_copy is not None:
            raise ValueError(
                "policy is a PEFT model: its judge is its own base weights (no copy); drop "
                "frozen_copy, or pass the copy to LLMJudge directly."
            )
        moved = sorted(k for k in ("dtype", "device") if k in judge_kwargs)
        if moved:
            raise ValueError(
                f"{moved} cannot be set for a PEFT policy's judge: its tensors are the policy's "
                "base weights, and casting or moving them would change the policy too."
            )
        view = base_weights_view(policy)
        return LLMJudge(view, tokenizer=tokenizer, dtype=None, device=policy.device,
                        **judge_kwargs)
    if frozen_copy is None:
        raise ValueError(
            "policy is trained with full fine-tuning (no PEFT adapters): its weights move, "
            "so it cannot be its own judge. Load the start checkpoint a second time and pass "
            "it as frozen_copy=..., or train LoRA adapters (peft.get_peft_model) so that the "
            "judge is the frozen base."
        )
    if shared_tensors(policy, frozen_copy):
        raise ValueError(
            "frozen_copy shares tensors with the policy; load it separately "
            "(AutoModelForCausalLM.from_pretrained(path)), not as the same object or a view."
        )
    return LLMJudge(frozen_copy, tokenizer=tokenizer, **judge_kwargs)


def shared_tensors(a: torch.nn.Module, b: torch.nn.Module, *, trained_in_a: bool = False
                   ) -> list[str]:
    """Names (in ``a``) of tensors whose storage ``b`` also uses; with ``trained_in_a`` only
    those ``a`` trains (``requires_grad``)."""
    def storage(t: torch.Tensor) -> int:
        return int(t.untyped_storage().data_ptr()) if t.numel() else -id(t)

    theirs = {storage(t) for t in [*b.parameters(), *b.buffers()]}
    return [name for name, t in a.named_parameters()
            if storage(t) in theirs and (t.requires_grad or not trained_in_a)]


def judge_models(judge: object) -> list[torch.nn.Module]:
    """The torch modules a judge computes with (``judge.model``; a panel's members'; those
    of the judge a wrapper such as a calibrated or time-limited judge holds as ``judge``)."""
    import torch

    found: list[torch.nn.Module] = []
    model = getattr(judge, "model", None)
    if isinstance(model, torch.nn.Module):
        found.append(model)
    inner = getattr(judge, "judge", None)
    if inner is not None and inner is not judge:
        found.extend(judge_models(inner))
    for member in getattr(judge, "members", None) or ():
        found.extend(judge_models(getattr(member, "judge", member)))
    return list({id(m): m for m in found}.values())


def has_adapter_layers(module: torch.nn.Module) -> bool:
    """Whether ``module`` holds PEFT adapter layers (it would compute with the adapters)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return False
    return any(isinstance(m, BaseTunerLayer) for m in module.modules())


def check_judge_apart(judge: object, policy: torch.nn.Module) -> None:
    """Raise :class:`~consent_gym.judges.FrozenJudgeError` unless the judge's model is apart
    from the policy: it may share tensors only with a PEFT policy's frozen base, never with
    weights the policy trains, never be the policy, and hold no adapter layers.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> policy = torch.nn.Linear(2, 2)
        >>> check_judge_apart(SimpleNamespace(model=torch.nn.Linear(2, 2)), policy)
        >>> try:
        ...     check_judge_apart(SimpleNamespace(model=policy), policy)
        ... except FrozenJudgeError as exc:
        ...     print("refused")
        refused
    """
    for model in judge_models(judge):
        shared = shared_tensors(policy, model)
        if not shared:
            continue
        trained = shared_tensors(policy, model, trained_in_a=True)
        if model is policy or trained or not is_peft_model(policy) or has_adapter_layers(model):
            raise FrozenJudgeError(
                f"the judge computes with the policy's weights ({(trained or shared)[:3]}); a "
                "judge must stay the start checkpoint: use start_checkpoint_judge(policy, "
                "tokenizer) for a PEFT policy (its frozen base, adapters left out), or load a "
                "separate frozen copy for full fine-tuning."
            )
