"""The judge contract: judge_texts fails closed, RuleJudge and KeywordJudge behave."""

from __future__ import annotations

import math

import numpy as np
import pytest

from consent_gym.judges import (
    JudgeError,
    KeywordJudge,
    RuleJudge,
    Verdict,
    check_judge,
    failed_verdict,
    judge_texts,
    verify_frozen,
)
from consent_gym.judges.base import with_reason
from tests.fakes import (
    MALFORMED_VERDICTS,
    FixedVerdictJudge,
    NaNJudge,
    RaisingJudge,
    WrongCountJudge,
)


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


@pytest.mark.parametrize("name", sorted(MALFORMED_VERDICTS))
def test_malformed_verdicts_fail_closed(name):
    judge = FixedVerdictJudge(MALFORMED_VERDICTS[name])
    verdicts = judge_texts(judge, ["a", "b"])
    assert [(v.approved, v.failed, v.outcome) for v in verdicts] == [(False, True, "failed")] * 2
    assert all(v.reason.startswith("judge error: a verdict") for v in verdicts)
    assert all(v.judge_id == "fixed" and math.isnan(v.p_acceptable) for v in verdicts)


@pytest.mark.parametrize("name", sorted(MALFORMED_VERDICTS))
def test_malformed_verdicts_raise_on_request(name):
    with pytest.raises(JudgeError, match="judge 'fixed': a verdict"):
        judge_texts(FixedVerdictJudge(MALFORMED_VERDICTS[name]), ["a"], on_judge_error="raise")


@pytest.mark.parametrize("name", sorted(MALFORMED_VERDICTS))
def test_malformed_verdicts_approve_only_on_the_explicit_unsafe_opt_in(name):
    judge = FixedVerdictJudge(MALFORMED_VERDICTS[name])
    (verdict,) = judge_texts(judge, ["a"], on_judge_error="approve")
    assert verdict.approved is True and verdict.failed and verdict.outcome == "failed"
    assert verdict.reason.startswith("judge error: a verdict")


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [
        (Verdict("no", 0.9, "j"), "non-bool approved='no'"),  # type: ignore[arg-type]
        (Verdict(True, 0.9, "j", failed=True), "failed but approves"),
        (Verdict(True, 0.9, 42), "non-str judge_id=42"),  # type: ignore[arg-type]
        (Verdict(True, float("inf"), "j"), "p_acceptable=inf"),
        (Verdict(True, 0.9, "j", members=("yes",)), "member 0 is a str"),  # type: ignore[arg-type]
    ],
)
def test_the_reason_names_what_was_malformed(verdict, reason):
    (result,) = judge_texts(FixedVerdictJudge(verdict), ["a"])
    assert reason in result.reason


@pytest.mark.parametrize(
    ("approved", "outcome"), [(np.bool_(True), "approved"), (np.bool_(False), "vetoed")]
)
def test_numpy_bools_are_honest_votes_returned_as_python_bools(approved, outcome):
    """``score > threshold`` on a numpy float is a numpy bool: a real yes/no, kept, and made a
    Python bool so ``approved is True`` holds and JSON writes true/false, not a string."""
    member = Verdict(approved, 0.5, "m", failed=np.bool_(False))  # type: ignore[arg-type]
    verdict = Verdict(approved, np.float32(0.75), "j", members=(member,))  # type: ignore[arg-type]
    (result,) = judge_texts(FixedVerdictJudge(verdict), ["a"])
    assert result.outcome == outcome and result.approved is bool(approved)
    assert type(result.failed) is bool and type(result.flagged) is bool
    assert type(result.members[0].approved) is bool and type(result.members[0].failed) is bool
    assert result.to_dict()["members"][0]["approved"] is bool(approved)


def test_well_formed_verdicts_pass_through_unchanged():
    verdicts = [
        Verdict(True, 1.0, "j"),
        Verdict(False, 0.0, "j", reason="r", flagged=True),
        Verdict(True, 0, "j"),  # an int probability is a probability
        failed_verdict("j", "the judge's own failure"),  # a failed veto is a valid answer
        Verdict(True, 0.5, "panel", members=(Verdict(True, 0.5, "m"), failed_verdict("n", "x"))),
    ]
    for verdict in verdicts:
        assert judge_texts(FixedVerdictJudge(verdict), ["a"]) == [verdict]
        assert judge_texts(FixedVerdictJudge(verdict), ["a"])[0] is verdict


def test_verify_frozen_asks_the_judge_with_the_requested_depth():
    class Frozen:
        judge_id = "frozen"

        def __init__(self) -> None:
            self.calls: list[bool] = []

        def verify_frozen(self, full: bool = True) -> None:
            self.calls.append(full)

    judge = Frozen()
    verify_frozen(judge)
    verify_frozen(judge, full=False)
    assert judge.calls == [True, False]
    verify_frozen(RuleJudge(bool))  # no weights: nothing to check, no error


def test_with_reason_replaces_only_the_reason():
    verdict = Verdict(True, 0.8, "j", reason="old", flagged=True)
    assert with_reason(verdict, "new") == Verdict(True, 0.8, "j", reason="new", flagged=True)
    assert verdict.reason == "old"  # verdicts are immutable


def test_verdict_to_dict_is_exact():
    member = failed_verdict("m", "boom")
    verdict = Verdict(True, 0.7, "p", reason="why", flagged=True, members=(member,))
    assert verdict.to_dict() == {
        "approved": True, "outcome": "approved", "p_acceptable": 0.7, "judge_id": "p",
        "reason": "why", "failed": False, "flagged": True,
        "members": [{"approved": False, "outcome": "failed", "p_acceptable": None,
                     "judge_id": "m", "reason": "boom", "failed": True, "flagged": False,
                     "members": []}],
    }


def test_numpy_failed_and_flagged_flags_survive_normalising():
    verdict = Verdict(np.bool_(False), float("nan"), "j", failed=np.bool_(True),  # type: ignore[arg-type]
                      flagged=np.bool_(True))  # type: ignore[arg-type]
    (result,) = judge_texts(FixedVerdictJudge(verdict), ["a"])
    assert (result.outcome, result.failed, result.flagged) == ("failed", True, True)
    assert type(result.failed) is bool and type(result.flagged) is bool


def test_failed_verdicts_name_the_judge_and_what_it_returned():
    (raised,) = judge_texts(RaisingJudge(), ["a"])
    assert raised.judge_id == "raising"

    class Anonymous:  # no judge_id: the failure is attributed to its type
        def judge_batch(self, texts):
            return {"a": True}

    (wrong,) = judge_texts(Anonymous(), ["a"])  # type: ignore[arg-type]
    assert wrong.judge_id == "Anonymous"
    assert "returned dict verdicts for 1 texts" in wrong.reason


def test_check_judge_requires_a_callable_judge_batch():
    class NotCallable:
        judge_id = "x"
        judge_batch = 42  # present (so the Protocol check passes) but not callable

    with pytest.raises(TypeError, match="judge_batch"):
        check_judge(NotCallable())
