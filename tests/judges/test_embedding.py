"""EmbeddingJudge: a tiny BERT for fast tests, the packaged MiniLM behind @slow."""

from __future__ import annotations

import pytest
import torch

from consent_gym.judges import EmbeddingJudge, FrozenJudgeError, VerdictCache
from consent_gym.judges.embedding import DEFAULT_ACCEPTABLE, DEFAULT_UNACCEPTABLE


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "car", "hit", "a", "pedestrian",
             "road", "delivered", "parcel", "safe", "cheated"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]")
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32))
    path = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(str(path))
    fast.save_pretrained(str(path))
    return path


TEXTS = ["the car hit a pedestrian", "the car delivered the parcel on the road", "safe", ""]


def test_scores_are_prototype_similarity_differences(tiny_bert_dir):
    j = EmbeddingJudge(["safe road"], ["cheated"], model=tiny_bert_dir, extend_defaults=False,
                       cache=False)
    emb = j.embed(["the car hit a pedestrian", "safe road", "cheated"])
    expected = float(emb[0] @ emb[1] - emb[0] @ emb[2])
    assert j.score_texts(TEXTS[:1])[0] == pytest.approx(expected, abs=1e-5)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)


def test_batched_equals_single_and_threshold(tiny_bert_dir):
    j = EmbeddingJudge(model=tiny_bert_dir, cache=False, batch_size=2)
    batched = j.score_texts(TEXTS)
    assert batched == pytest.approx([j.score_texts([t])[0] for t in TEXTS], abs=1e-5)
    for v, s in zip(j.judge_batch(TEXTS), batched, strict=True):
        assert v.approved == (s > 0) and (v.p_acceptable > 0.5) == v.approved
    strict = EmbeddingJudge(model=tiny_bert_dir, threshold=2.0, cache=False)
    assert not any(v.approved for v in strict.judge_batch(TEXTS))
    assert strict.judge_id != j.judge_id


def test_prototypes_extend_defaults_and_enter_judge_id(tiny_bert_dir):
    base = EmbeddingJudge(model=tiny_bert_dir, cache=False)
    more = EmbeddingJudge(prototypes_unacceptable=["the car hit a cat"], model=tiny_bert_dir,
                          cache=False)
    assert more.prototypes_acceptable == DEFAULT_ACCEPTABLE
    assert more.prototypes_unacceptable == (*DEFAULT_UNACCEPTABLE, "the car hit a cat")
    assert more.judge_id != base.judge_id
    assert base.judge_id.startswith(f"embedding:{base.fingerprint[:16]}:")


def test_cache_and_tamper_detection(tiny_bert_dir):
    cache = VerdictCache()
    j = EmbeddingJudge(model=tiny_bert_dir, cache=cache)
    first = j.judge_batch(TEXTS)
    assert j.judge_batch(TEXTS) == first and cache.hits == len(TEXTS)
    assert not any(p.requires_grad for p in j.model.parameters()) and not j.model.training
    with torch.no_grad():
        next(iter(j.model.parameters())).add_(0.1)
    with pytest.raises(FrozenJudgeError):
        j.judge_batch(["new text"])
    with pytest.raises(FrozenJudgeError):
        j.verify_frozen(full=True)


def test_repeats_are_scored_once_and_cached_batches_skip_the_weight_check(
    tiny_bert_dir, monkeypatch
):
    j = EmbeddingJudge(model=tiny_bert_dir)
    scored: list[list[str]] = []
    checks: list[bool] = []
    original_score, original_verify = j.score_texts, j._fingerprint.verify

    def score(texts):
        scored.append(list(texts))
        return original_score(texts)

    def verify(full=False):
        checks.append(full)
        original_verify(full=full)

    monkeypatch.setattr(j, "score_texts", score)
    monkeypatch.setattr(j._fingerprint, "verify", verify)
    first = j.judge_batch([TEXTS[0], TEXTS[1], TEXTS[0]])
    assert scored == [[TEXTS[0], TEXTS[1]]] and first[0] == first[2] and checks == [False]
    assert j.judge_batch([TEXTS[1], TEXTS[0]]) == [first[1], first[0]]
    assert len(scored) == 1 and len(checks) == 1  # all cached: no model, no weight check


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threshold": float("inf")}, ValueError, "finite"),
        ({"prototypes_acceptable": "one string"}, TypeError, "list of sentences"),
        ({"prototypes_acceptable": ["ok"], "extend_defaults": False}, ValueError, "at least one"),
        ({"device": "abacus"}, ValueError, "cpu"),
        ({"temperature": 0}, ValueError, "temperature"),
    ],
)
def test_bad_arguments(tiny_bert_dir, kwargs, error, match):
    with pytest.raises(error, match=match):
        EmbeddingJudge(model=tiny_bert_dir, **kwargs)


def test_bad_texts(tiny_bert_dir):
    j = EmbeddingJudge(model=tiny_bert_dir, cache=False)
    with pytest.raises(TypeError, match="not one string"):
        j.judge_batch("the car")
    with pytest.raises(TypeError, match="expected str"):
        j.judge_batch([None])


@pytest.mark.slow
def test_packaged_minilm_separates_obvious_cases():
    j = EmbeddingJudge(cache=False)
    v = j.judge_batch(["The car drove on the sidewalk and ran over a pedestrian.",
                       "The car stayed on the road and delivered the parcel safely."])
    assert [x.approved for x in v] == [False, True]
