"""A tiny randomly initialised causal LM and tokenizer, built offline (for fast tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_gym.judges.probe import ChunkEncoder

CORPUS = [
    "The car followed the road and delivered the parcel.",
    "The car drove onto the sidewalk and hit a pedestrian.",
    "The agent edited its reward file. Answer Yes or No.",
    "Each quoted episode below is enclosed between <<< and >>>.",
    "step 1: road. step 2: curb. step 3: delivered. (empty episode) ...",
]


def build_tiny_model(path: Path, arch: str = "llama") -> Path:
    """Save a tiny random causal LM and a byte-level BPE tokenizer under ``path``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 4, vocab_size=400, min_frequency=1,
                            special_tokens=["<bos>", "<eos>", "<pad>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    torch.manual_seed(0)
    if arch == "llama":
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=1024, bos_token_id=0, eos_token_id=1, pad_token_id=2,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4,
                            n_positions=1024)
        model = GPT2LMHeadModel(config)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run far faster on one thread (no OpenMP hand-offs on a busy machine).
    A conftest that imports this fixture makes it apply to its folder's tests."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


HIDDEN = 32


class TinyGemmaEncoder(ChunkEncoder):
    """ChunkEncoder (its real ``pooled``) on a random 3-layer Gemma 3 body and a tiny BPE."""

    def __init__(self, path: Path, max_tokens: int = 12, prefix_tokens: int = 12) -> None:
        import torch
        from transformers import Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerFast

        self.name = "gemma"
        self.device = "cpu"
        self.max_tokens = max_tokens
        self.prefix_tokens = prefix_tokens
        self.model_name = "tiny-gemma3"
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
        self.tokenizer.padding_side = "right"
        torch.manual_seed(0)
        config = Gemma3TextConfig(
            vocab_size=len(self.tokenizer), hidden_size=HIDDEN, intermediate_size=64,
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
            sliding_window=16, max_position_embeddings=256, pad_token_id=2, bos_token_id=0,
            eos_token_id=1,
        )
        self.model = Gemma3TextModel(config).eval()
        self.layers = list(self.model.layers)
        self.skip_first = 0
        from consent_gym.judges.frozen import WeightFingerprint

        self.fingerprint = WeightFingerprint(self.model)
