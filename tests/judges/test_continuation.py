"""ContinuationSampler: seeded, batch-independent continuations from a frozen causal LM."""

from __future__ import annotations

import pytest
import torch

from consent_gym.judges import FrozenJudgeError
from consent_gym.judges.continuation import ContinuationSampler, check_seeds

TEXT = "The car drove onto the sidewalk and hit a pedestrian."


@pytest.fixture(scope="module")
def sampler(tiny_model_dir):
    return ContinuationSampler(str(tiny_model_dir), max_new_tokens=10, temperature=2.0)


def test_same_seed_same_continuation_whatever_the_batch(sampler):
    three = sampler.continue_text(TEXT, [0, 1, 2])
    assert three == sampler.continue_text(TEXT, [0, 1, 2])
    assert sampler.continue_text(TEXT, [2]) == three[2:]
    assert sampler.continue_text(TEXT, [2, 0]) == [three[2], three[0]]
    assert len(set(three)) > 1  # different seeds sample different continuations
    assert all(isinstance(c, str) and c for c in three)


def test_a_continuation_ends_at_an_end_of_sequence_token(sampler, monkeypatch):
    vocab = sampler.model.get_output_embeddings().weight.shape[0]
    monkeypatch.setattr(sampler, "_stop_ids", frozenset(range(vocab)))  # every token ends
    assert sampler.continue_text(TEXT, [0, 1]) == ["", ""]


def test_the_prompt_prefix_is_read_but_not_written(tiny_model_dir, sampler):
    labelled = ContinuationSampler(str(tiny_model_dir), max_new_tokens=10, temperature=2.0,
                                   prompt_prefix="Each quoted episode below ")
    assert labelled.prompt_ids(TEXT)[: 3] != sampler.prompt_ids(TEXT)[: 3]
    assert labelled.sampler_id != sampler.sampler_id
    assert labelled.sampler_id.split(":")[1] == sampler.sampler_id.split(":")[1]  # same weights


def test_a_long_prompt_keeps_its_beginning_token_and_its_end(tiny_model_dir):
    plain = ContinuationSampler(str(tiny_model_dir), max_prompt_tokens=8)
    full = list(plain.tokenizer(TEXT * 5, add_special_tokens=True)["input_ids"])
    assert full[0] != plain.tokenizer.bos_token_id  # the tiny tokenizer adds none
    assert plain.prompt_ids(TEXT * 5) == full[-8:]
    # A prompt that starts with the beginning-of-sequence token keeps it.
    opened = ContinuationSampler(str(tiny_model_dir), max_prompt_tokens=8, prompt_prefix="<bos>")
    ids = opened.prompt_ids(TEXT * 5)
    assert len(ids) == 8 and ids[0] == opened.tokenizer.bos_token_id and ids[1:] == full[-7:]


def test_changed_weights_stop_the_sampler(tiny_model_dir):
    sampler = ContinuationSampler(str(tiny_model_dir), max_new_tokens=2)
    sampler.verify_frozen()
    with torch.no_grad():
        next(sampler.model.parameters()).add_(1.0)
    with pytest.raises(FrozenJudgeError):
        sampler.continue_text(TEXT, [0])
    with pytest.raises(FrozenJudgeError):
        sampler.verify_frozen(full=True)


def test_a_loaded_model_needs_its_tokenizer(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with pytest.raises(ValueError, match="tokenizer"):
        ContinuationSampler(model)
    sampler = ContinuationSampler(model, AutoTokenizer.from_pretrained(str(tiny_model_dir)),
                                  max_new_tokens=3)
    assert len(sampler.continue_text(TEXT, [5])) == 1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"max_new_tokens": 0}, ValueError, "max_new_tokens"),
    ({"max_prompt_tokens": 4}, ValueError, "max_prompt_tokens"),
    ({"temperature": 0}, ValueError, "temperature"),
    ({"prompt_prefix": 3}, TypeError, "prompt_prefix"),
    ({"dtype": "int8"}, ValueError, "dtype"),
])
def test_bad_settings_name_the_problem(tiny_model_dir, kwargs, error, match):
    with pytest.raises(error, match=match):
        ContinuationSampler(str(tiny_model_dir), **kwargs)


def test_bad_models_texts_and_seeds(sampler):
    with pytest.raises(TypeError, match="checkpoint folder"):
        ContinuationSampler(42)
    with pytest.raises(TypeError, match="str"):
        sampler.continue_text(None, [0])  # type: ignore[arg-type]
    for seeds, match in (([], "empty"), ([1, 1], "repeat"), ([-1], ">= 0"), ("01", "string"),
                         ([True], ">= 0")):
        with pytest.raises(ValueError, match=match):
            check_seeds(seeds)


def test_a_loaded_model_is_cast_only_for_an_explicit_dtype(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.bfloat16)
    ContinuationSampler(model, tokenizer, dtype=None)
    assert next(model.parameters()).dtype == torch.bfloat16
    ContinuationSampler(model, tokenizer, dtype="auto")
    assert next(model.parameters()).dtype == torch.bfloat16
    ContinuationSampler(model, tokenizer)  # float32, the default, is explicit
    assert next(model.parameters()).dtype == torch.float32
