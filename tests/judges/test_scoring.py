"""The shared base of the model judges: text checks, the cache= argument, and a cached
judge_batch that scores each distinct uncached text once after the frozen-weights check."""

from __future__ import annotations

import pytest
import torch

from consent_gym.judges import FrozenJudgeError, Verdict, VerdictCache
from consent_gym.judges.frozen import WeightFingerprint
from consent_gym.judges.scoring import ScoringJudge, check_texts, escape_episode, resolve_cache


class LengthJudge(ScoringJudge):
    """Approves texts shorter than 10 characters; counts what it is asked to score."""

    def __init__(self, cache):
        self.judge_id, self.prompt = "length:10", "shorter than 10"
        self.cache = resolve_cache(cache)
        self.weights = torch.nn.Linear(2, 1)
        self.weights.requires_grad_(False)
        self._fingerprint = WeightFingerprint(self.weights)
        self.scored: list[list[str]] = []

    def _decide(self, texts):
        self.scored.append(list(texts))
        return [Verdict(len(t) < 10, 0.9 if len(t) < 10 else 0.1, self.judge_id) for t in texts]


def test_check_texts_lists_and_names_the_fix():
    assert check_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError, match=r"judge_batch\(\[text\]\)"):
        check_texts("one string")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        check_texts(["ok", 3])  # type: ignore[list-item]


def test_resolve_cache_reads_every_accepted_form(tmp_path):
    mine = VerdictCache()
    assert resolve_cache(mine) is mine
    assert resolve_cache(False) is None and resolve_cache(None) is None
    assert isinstance(resolve_cache(True), VerdictCache)
    on_disk = resolve_cache(tmp_path / "verdicts.sqlite")
    assert isinstance(on_disk, VerdictCache) and len(on_disk) == 0
    with pytest.raises(TypeError, match="VerdictCache"):
        resolve_cache(3)


def test_escape_episode_breaks_fences_and_control_characters():
    assert escape_episode(" a\x00b <<<< c ") == "a b < < < < c"


def test_judge_batch_scores_distinct_uncached_texts_once():
    judge = LengthJudge(cache=True)
    verdicts = judge.judge_batch(["short", "a much longer text", "short"])
    assert [v.approved for v in verdicts] == [True, False, True]
    assert judge.scored == [["short", "a much longer text"]]
    judge.judge_batch(["short"])
    assert judge.scored == [["short", "a much longer text"]]  # from the cache
    assert judge.judge_batch([]) == []


def test_judge_batch_stops_when_the_weights_changed():
    judge = LengthJudge(cache=False)
    with torch.no_grad():
        judge.weights.weight.add_(1.0)
    with pytest.raises(FrozenJudgeError):
        judge.judge_batch(["short"])
    with pytest.raises(FrozenJudgeError):
        judge.judge_batch([])
    assert judge.scored == []
