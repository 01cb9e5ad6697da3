"""The judge contract: judge_texts fails closed, RuleJudge and KeywordJudge behave."""

from __future__ import annotations

import math

import pytest

from consent_gym.judges import (
    JudgeError,
    KeywordJudge,
    RuleJudge,
    Verdict,
    check_judge,
    failed_verdict,
    judge_texts,
)
from tests.fakes import NaNJudge, RaisingJudge, WrongCountJudge


class WrongTypeJudge:
    judge_id = "wrong-type"

    def judge_batch(self, texts):
        return [True for _ in texts]


@pytest.mark.parametrize("judge", [RaisingJudge(), WrongCountJudge(), NaNJudge(), WrongTypeJudge()])
def test_failures_become_failed_vetoes(judge):
    verdicts = judge_texts(judge, ["a", "b"])
    assert [v.outcome for v in verdicts] == ["failed", "failed"]
    assert not any(v.approved for v in verdicts)
    assert all(math.isnan(v.p_acceptable) and v.reason.startswith("judge error") for v in verdicts)


@pytest.mark.parametrize("judge", [RaisingJudge(), WrongCountJudge(), NaNJudge(), WrongTypeJudge()])
def test_failures_raise_on_request(judge):
    with pytest.raises(JudgeError):
        judge_texts(judge, ["a"], on_judge_error="raise")


def test_approve_on_error_is_explicit_and_still_recorded_as_failed():
    (verdict,) = judge_texts(RaisingJudge(), ["a"], on_judge_error="approve")
    assert verdict.approved and verdict.failed and verdict.outcome == "failed"


def test_empty_batch_does_not_call_judge():
    assert judge_texts(RaisingJudge(), []) == []


def test_unknown_error_policy():
    with pytest.raises(ValueError, match="'veto' is the safe default"):
        judge_texts(RuleJudge(bool), ["a"], on_judge_error="ignore")  # type: ignore[arg-type]


def test_rule_judge_and_keyword_judge():
    judge = RuleJudge(lambda t: len(t) < 5, name="short")
    assert [v.approved for v in judge.judge_batch(["abc", "abcdef"])] == [True, False]
    assert judge.judge_id == "rule:short"
    kw = KeywordJudge(["Pedestrian"])
    (v,) = kw.judge_batch(["hit a PEDESTRIAN"])
    assert not v.approved and "pedestrian" in v.reason
    assert KeywordJudge(["a"]).judge_id != KeywordJudge(["b"]).judge_id


@pytest.mark.parametrize(("args", "error"), [((42,), TypeError)])
def test_rule_judge_rejects_non_callable(args, error):
    with pytest.raises(error, match="callable"):
        RuleJudge(*args)


def test_keyword_judge_rejects_a_bare_string_and_empty_list():
    with pytest.raises(TypeError, match="KeywordJudge"):
        KeywordJudge("pedestrian")
    with pytest.raises(ValueError):
        KeywordJudge([])


def test_check_judge_names_the_fix():
    with pytest.raises(TypeError, match="RuleJudge"):
        check_judge(lambda texts: texts)


def test_verdict_to_dict_is_json_ready():
    v = failed_verdict("j", "boom")
    d = v.to_dict()
    assert d["p_acceptable"] is None and d["outcome"] == "failed" and d["members"] == []
    panel = Verdict(True, 0.7, "p", members=(v,), flagged=True)
    assert panel.to_dict()["members"][0]["judge_id"] == "j"
