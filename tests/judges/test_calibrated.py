"""BaselineCalibratedJudge: the score an answer adds to its content-free baseline decides."""

from __future__ import annotations

import math

import pytest

from consent_gym.judges import FrozenJudgeError, LLMJudge, RuleJudge, judge_texts
from consent_gym.judges.calibrated import BaselineCalibratedJudge
from consent_gym.render.completion import CompletionRenderer

RENDERER = CompletionRenderer()


class HarmCounter:
    """Scores a text by minus its number of "harm" words, counting the texts it scored."""

    judge_id = "count:harm"
    prompt = "count harm"

    def __init__(self) -> None:
        self.scored: list[str] = []
        self.frozen_checks = 0
        self.tampered = False

    def score_texts(self, texts):
        self.scored.extend(texts)
        return [-float(t.count("harm")) for t in texts]

    def judge_batch(self, texts):  # the protocol; calibration uses score_texts
        raise AssertionError("a calibrated judge asks for scores, not verdicts")

    def verify_frozen(self, full=True):
        self.frozen_checks += 1
        if self.tampered:
            raise FrozenJudgeError("weights changed")


def pair(task: str, answer: str) -> str:
    return RENDERER.render(task, answer)


def test_the_answer_decides_not_the_task():
    """A harmful-sounding task no longer vetoes every answer; a harmful answer still is."""
    inner = HarmCounter()
    judge = BaselineCalibratedJudge(inner, RENDERER.content_free, cache=False)
    task = "harm harm harm: the sidewalk is full of people."
    verdicts = judge.judge_batch([pair(task, "take the road"), pair(task, "cause harm")])
    assert [v.approved for v in verdicts] == [False, False]  # road adds 0: not > 0
    assert judge.score_texts([pair(task, "take the road"), pair(task, "cause harm")]) == [
        0.0, -1.0]
    lenient = BaselineCalibratedJudge(inner, RENDERER.content_free, threshold=-0.5,
                                      cache=False)
    verdicts = lenient.judge_batch([pair(task, "take the road"), pair(task, "cause harm")])
    assert [v.approved for v in verdicts] == [True, False]
    assert verdicts[0].reason == "calibrated score +0.000 vs threshold -0.500"
    assert math.isclose(verdicts[1].p_acceptable, 1 / (1 + math.exp(0.5)))


def test_each_baseline_is_scored_once_across_batches():
    inner = HarmCounter()
    judge = BaselineCalibratedJudge(inner, RENDERER.content_free, cache=False)
    task = "deliver the parcel"
    judge.score_texts([pair(task, "a"), pair(task, "b"), pair("other", "c")])
    assert inner.scored.count(pair(task, "")) == 1
    assert len(inner.scored) == 5  # 3 texts and 2 baselines, in one call
    judge.score_texts([pair(task, "d")])
    assert inner.scored.count(pair(task, "")) == 1  # remembered


def test_a_text_the_baseline_cannot_take_apart_fails_closed():
    judge = BaselineCalibratedJudge(HarmCounter(), RENDERER.content_free, cache=False)
    [verdict] = judge_texts(judge, ["free text with no answer label"])
    assert verdict.outcome == "failed" and "no line" in verdict.reason


def test_the_frozen_check_is_the_inner_judges_and_runs_before_scoring():
    inner = HarmCounter()
    judge = BaselineCalibratedJudge(inner, RENDERER.content_free, cache=False)
    judge.judge_batch([pair("t", "a")])
    assert inner.frozen_checks >= 1
    inner.tampered = True
    scored = len(inner.scored)
    with pytest.raises(FrozenJudgeError):
        judge_texts(judge, [pair("t", "b")])
    assert len(inner.scored) == scored
    with pytest.raises(FrozenJudgeError):
        judge.verify_frozen()


def test_cached_verdicts_skip_the_inner_judge():
    inner = HarmCounter()
    judge = BaselineCalibratedJudge(inner, RENDERER.content_free)
    text = pair("t", "a")
    first = judge.judge_batch([text])
    scored = len(inner.scored)
    assert judge.judge_batch([text]) == first and len(inner.scored) == scored


def test_the_judge_id_covers_the_inner_judge_the_baseline_and_the_threshold():
    inner = HarmCounter()
    ids = {
        BaselineCalibratedJudge(inner, RENDERER.content_free).judge_id,
        BaselineCalibratedJudge(inner, RENDERER.content_free, threshold=0.5).judge_id,
        BaselineCalibratedJudge(
            inner, CompletionRenderer(answer_label="Answer:").content_free).judge_id,
    }
    assert len(ids) == 3 and all(i.startswith("calibrated:count:harm:") for i in ids)
    assert BaselineCalibratedJudge(inner, RENDERER.content_free).judge_id in ids


def test_bad_arguments_name_the_fix():
    with pytest.raises(TypeError, match="no score_texts"):
        BaselineCalibratedJudge(RuleJudge(bool), RENDERER.content_free)
    with pytest.raises(TypeError, match="judge_batch"):
        BaselineCalibratedJudge(object(), RENDERER.content_free)
    with pytest.raises(TypeError, match="content_free"):
        BaselineCalibratedJudge(HarmCounter(), "baseline")  # type: ignore[arg-type]
    for bad in (float("nan"), float("inf"), True, "0"):
        with pytest.raises(ValueError, match="threshold must be a finite number"):
            BaselineCalibratedJudge(HarmCounter(), RENDERER.content_free, threshold=bad)


def test_on_an_llm_judge_it_is_the_difference_of_its_scores(tiny_model_dir):
    llm = LLMJudge(str(tiny_model_dir), headers="general", examples=[], cache=False,
                   dtype="float32")
    judge = BaselineCalibratedJudge(llm, RENDERER.content_free, cache=False)
    texts = [pair("Deliver the parcel.", "Take the road."),
             pair("Deliver the parcel.", "Drive on the sidewalk.")]
    raw = llm.score_texts([*texts, pair("Deliver the parcel.", "")])
    got = judge.score_texts(texts)
    assert got == pytest.approx([raw[0] - raw[2], raw[1] - raw[2]], abs=1e-5)
    assert judge.judge_id.startswith(f"calibrated:{llm.judge_id}:")
