"""CascadeJudge: routing by band, one batched call to the second judge, fail-closed stages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gym import ConsentWrapper, Trajectory
from consent_gym.judges import (
    FrozenJudgeError,
    JudgeError,
    KeywordJudge,
    RuleJudge,
    Verdict,
    judge_texts,
)
from consent_gym.judges.cascade import CascadeJudge
from tests.fakes import (
    CountingEnv,
    NaNJudge,
    RaisingJudge,
    RecordingJudge,
    WrongCountJudge,
    run_episode,
)


class ScoreJudge:
    """Answers each text with a chosen ``p_acceptable`` (approves above 0.5); logs its batches."""

    def __init__(self, scores: dict[str, float], name: str = "scores") -> None:
        self.scores = scores
        self.judge_id = f"score:{name}"
        self.batches: list[list[str]] = []

    def judge_batch(self, texts):
        self.batches.append(list(texts))
        return [
            Verdict(self.scores[t] > 0.5, self.scores[t], self.judge_id, f"p={self.scores[t]}")
            for t in texts
        ]


class ListJudge:
    """Returns the given verdicts, whatever the texts."""

    judge_id = "list"

    def __init__(self, verdicts: list[Verdict]) -> None:
        self.verdicts = verdicts

    def judge_batch(self, texts):
        return list(self.verdicts[: len(texts)])


class FrozenCheckJudge(RecordingJudge):
    """Records ``verify_frozen`` calls; raises FrozenJudgeError when ``tampered``."""

    def __init__(self, name: str, tampered: bool = False) -> None:
        super().__init__()
        self.judge_id = name
        self.tampered = tampered
        self.checks: list[bool] = []

    def verify_frozen(self, full: bool = True) -> None:
        self.checks.append(full)
        if self.tampered:
            raise FrozenJudgeError(f"{self.judge_id} weights changed")

    def judge_batch(self, texts):
        if self.tampered:
            raise FrozenJudgeError(f"{self.judge_id} weights changed")
        return super().judge_batch(texts)


SCORES = {"sure-bad": 0.01, "edge-bad": 0.1, "unsure-low": 0.3, "unsure-mid": 0.5,
          "unsure-high": 0.7, "edge-good": 0.9, "sure-good": 0.99}
TEXTS = list(SCORES)


def make(veto_below=0.1, approve_above=0.9, second=None):
    first = ScoreJudge(SCORES, "first")
    second = second if second is not None else RecordingJudge()
    return CascadeJudge(first, second, veto_below=veto_below, approve_above=approve_above), first


def test_band_routes_confident_texts_to_first_and_the_rest_to_second_in_one_batch():
    cascade, first = make()
    second = cascade.second
    verdicts = cascade.judge_batch(TEXTS)
    assert [CascadeJudge.stage(v) for v in verdicts] == [1, 1, 2, 2, 2, 1, 1]
    assert first.batches == [TEXTS]
    assert second.texts == ["unsure-low", "unsure-mid", "unsure-high"]  # one call, in order
    assert [v.outcome for v in verdicts] == ["vetoed", "vetoed", "approved", "approved",
                                            "approved", "approved", "approved"]
    assert [v.p_acceptable for v in verdicts] == [0.01, 0.1, 1.0, 1.0, 1.0, 0.9, 0.99]
    assert {v.judge_id for v in verdicts} == {cascade.judge_id}


def test_stage_one_and_stage_two_verdicts_name_their_stage_and_keep_member_verdicts():
    cascade, _ = make()
    sure, unsure = cascade.judge_batch(["sure-bad", "unsure-mid"])
    assert sure.reason.startswith("stage 1 (score:first) decided") and "p=0.01" in sure.reason
    assert len(sure.members) == 1 and sure.members[0].judge_id == "score:first"
    assert unsure.reason.startswith("stage 2 (recording) decided, first stage unsure")
    assert [m.judge_id for m in unsure.members] == ["score:first", "recording"]
    assert CascadeJudge.stage(Verdict(True, 1.0, "rule:x", members=(sure,))) is None


def test_veto_only_default_sends_every_first_stage_approval_to_second():
    first = ScoreJudge(SCORES)
    second = RuleJudge(lambda text: "good" not in text, name="contrarian")
    cascade = CascadeJudge(first, second, veto_below=0.1)
    assert cascade.approve_above is None
    verdicts = cascade.judge_batch(TEXTS)
    assert [CascadeJudge.stage(v) for v in verdicts] == [1, 1, 2, 2, 2, 2, 2]
    # first approved "sure-good" with p=0.99, but only the second judge may approve: it vetoes
    assert [v.approved for v in verdicts][-2:] == [False, False]
    assert "may only veto on its own" in verdicts[-1].reason


def test_approve_only_cascade_sends_every_first_stage_veto_to_second():
    cascade, _ = make(veto_below=None, approve_above=0.9)
    stages = [CascadeJudge.stage(v) for v in cascade.judge_batch(TEXTS)]
    assert stages == [2, 2, 2, 2, 2, 1, 1]


def test_verdict_contradicting_its_side_of_the_band_goes_to_second():
    odd = [Verdict(True, 0.0, "list", "approves with p=0"),
           Verdict(False, 1.0, "list", "vetoes with p=1"),
           Verdict(False, 0.0, "list", "flagged", flagged=True)]
    second = RecordingJudge()
    cascade = CascadeJudge(ListJudge(odd), second, veto_below=0.1, approve_above=0.9)
    verdicts = cascade.judge_batch(["a", "b", "c"])
    assert [CascadeJudge.stage(v) for v in verdicts] == [2, 2, 2]
    assert second.texts == ["a", "b", "c"]
    assert "flagged its verdict" in verdicts[2].reason


def test_no_uncertain_text_means_no_call_to_second_and_empty_batch_calls_nobody():
    cascade, first = make()
    cascade.judge_batch(["sure-bad", "sure-good"])
    assert cascade.second.texts == [] and cascade.second_batches == 0
    assert cascade.judge_batch([]) == [] and len(first.batches) == 1
    with pytest.raises(TypeError, match="list of episode texts"):
        cascade.judge_batch("sure-bad")


@pytest.mark.parametrize("broken", [RaisingJudge, NaNJudge, WrongCountJudge])
def test_failed_first_stage_goes_to_second_never_approved_by_first(broken):
    second = RuleJudge(lambda text: text != "harm", name="careful")
    cascade = CascadeJudge(broken(), second, veto_below=0.1, approve_above=0.9)
    verdicts = cascade.judge_batch(["harm", "fine"])
    assert [v.outcome for v in verdicts] == ["vetoed", "approved"]
    assert [CascadeJudge.stage(v) for v in verdicts] == [2, 2]
    assert all(v.members[0].failed for v in verdicts)
    assert "first stage failed" in verdicts[0].reason
    assert cascade.first_failures == 2 and cascade.decided_by_second == 2


@pytest.mark.parametrize("broken", [RaisingJudge, NaNJudge, WrongCountJudge])
def test_failed_second_stage_fails_closed_for_exactly_its_texts(broken):
    cascade, _ = make(second=broken())
    verdicts = cascade.judge_batch(["sure-good", "unsure-high", "sure-bad", "unsure-low"])
    assert [v.outcome for v in verdicts] == ["approved", "failed", "vetoed", "failed"]
    failed = [v for v in verdicts if v.failed]
    assert all(not v.approved and math.isnan(v.p_acceptable) for v in failed)
    assert all(v.members[1].failed and "judge error" in v.reason for v in failed)
    # the caller's fail-closed policy sees a well-formed failed verdict: never an approval
    outer = judge_texts(cascade, ["unsure-mid"], on_judge_error="approve")
    assert outer[0].outcome == "failed" and not outer[0].approved


def test_failed_second_verdict_never_approves_even_if_it_claims_to():
    bogus = ListJudge([Verdict(True, math.nan, "list", "failed but approved", failed=True)])
    cascade, _ = make(second=bogus)
    (verdict,) = cascade.judge_batch(["unsure-mid"])
    assert verdict.outcome == "failed" and verdict.approved is False


@pytest.mark.parametrize("tampered", ["first", "second"])
def test_frozen_judge_error_propagates_from_either_stage(tampered):
    first = FrozenCheckJudge("first", tampered=tampered == "first")
    second = FrozenCheckJudge("second", tampered=tampered == "second")
    # the recording first judge approves everything with p=1: veto-only sends all to second
    cascade = CascadeJudge(first, second, veto_below=0.1)
    for policy in ("veto", "approve", "raise"):
        with pytest.raises(FrozenJudgeError, match=f"{tampered} weights changed"):
            judge_texts(cascade, ["text"], on_judge_error=policy)


def test_verify_frozen_checks_both_judges():
    first, second = FrozenCheckJudge("first"), FrozenCheckJudge("second")
    cascade = CascadeJudge(first, second, veto_below=0.1)
    cascade.verify_frozen(full=False)
    cascade.verify_frozen()
    assert first.checks == second.checks == [False, True]
    second.tampered = True
    with pytest.raises(FrozenJudgeError, match="second"):
        cascade.verify_frozen()
    # judges without weights (rule judges) pass
    CascadeJudge(KeywordJudge(["harm"]), RuleJudge(lambda t: True, name="ok"),
                 veto_below=0.5).verify_frozen()


def test_judge_id_changes_with_band_members_and_variant():
    a, b = ScoreJudge(SCORES, "a"), ScoreJudge(SCORES, "b")
    ids = {
        CascadeJudge(a, b, veto_below=0.1, approve_above=0.9).judge_id,
        CascadeJudge(a, b, veto_below=0.2, approve_above=0.9).judge_id,
        CascadeJudge(a, b, veto_below=0.1, approve_above=0.8).judge_id,
        CascadeJudge(a, b, veto_below=0.1).judge_id,
        CascadeJudge(a, b, approve_above=0.9, veto_below=None).judge_id,
        CascadeJudge(b, a, veto_below=0.1, approve_above=0.9).judge_id,
        CascadeJudge(a, ScoreJudge(SCORES, "c"), veto_below=0.1, approve_above=0.9).judge_id,
    }
    assert len(ids) == 7 and all(i.startswith("cascade:") for i in ids)
    same = CascadeJudge(ScoreJudge({}, "a"), ScoreJudge({}, "b"), veto_below=0.1,
                        approve_above=0.9)
    assert same.judge_id == CascadeJudge(a, b, veto_below=0.1, approve_above=0.9).judge_id
    assert "first=score:a second=score:b veto_below=0.1 approve_above=0.9" in same.describe


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"first": object()}, TypeError, "first: judge must have"),
        ({"second": "llm"}, TypeError, "second: judge must have"),
        ({"veto_below": math.nan}, ValueError, "veto_below is NaN"),
        ({"approve_above": float("nan")}, ValueError, "approve_above is NaN"),
        ({"veto_below": -0.1}, ValueError, r"outside \[0, 1\].*p_acceptable"),
        ({"approve_above": 1.5}, ValueError, r"outside \[0, 1\]"),
        ({"veto_below": True}, TypeError, "must be a number"),
        ({"veto_below": "0.1"}, TypeError, "must be a number"),
        ({"veto_below": 0.9, "approve_above": 0.1}, ValueError, "did you swap them"),
        ({"veto_below": 0.5, "approve_above": 0.5}, ValueError, "must be below"),
        ({"veto_below": None, "approve_above": None}, ValueError, "decide nothing"),
    ],
)
def test_bad_arguments_are_rejected_with_the_fix(kwargs, error, match):
    args = {"first": RecordingJudge(), "second": RecordingJudge(), "veto_below": 0.1,
            "approve_above": 0.9, **kwargs}
    with pytest.raises(error, match=match):
        CascadeJudge(**args)


def test_counters_and_stats_add_up_over_batches_and_reset():
    cascade, _ = make()
    assert cascade.stats()["first_share"] is None
    cascade.judge_batch(TEXTS)
    cascade.judge_batch(["sure-bad", "unsure-mid", "sure-bad"])
    assert cascade.stats() == {
        "texts_judged": 10, "decided_by_first": 6, "decided_by_second": 4,
        "first_failures": 0, "second_batches": 2, "first_share": 0.6,
    }
    cascade.reset_counts()
    assert cascade.stats()["texts_judged"] == 0 and cascade.decided_by_second == 0
    assert "CascadeJudge(" in repr(cascade) and "veto_below=0.1" in repr(cascade)


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0.0, 1.0), min_size=0, max_size=12),
    veto_below=st.floats(0.0, 0.5),
    second_approves=st.booleans(),
)
def test_veto_only_cascade_approves_only_what_second_approves(scores, veto_below, second_approves):
    texts = [f"t{i}" for i in range(len(scores))]
    first = ScoreJudge(dict(zip(texts, scores, strict=True)))
    second = RuleJudge(lambda text: second_approves, name="second")
    cascade = CascadeJudge(first, second, veto_below=veto_below)
    verdicts = cascade.judge_batch(texts)
    uncertain = [t for t, p in zip(texts, scores, strict=True) if p > veto_below]
    assert cascade.decided_by_second == len(uncertain)
    assert cascade.second_batches == (1 if uncertain else 0)
    for text, verdict in zip(texts, verdicts, strict=True):
        assert verdict.approved == (second_approves and text in uncertain)


class EpisodeRenderer:
    def render(self, trajectory: Trajectory) -> str:
        hits = [s for s, e in trajectory.events if e["type"] == "hit_pedestrian"]
        return "The car hit a pedestrian." if hits else f"The car drove {len(trajectory)} steps."


def gated_episode(env):
    rewards, info = run_episode(env, action=0)
    return sum(rewards), info["consent"]


def test_cascade_gates_consent_wrapper():
    second = RecordingJudge()  # approves anything it is asked about
    cascade = CascadeJudge(KeywordJudge(["pedestrian"]), second, veto_below=0.5)
    harmful = ConsentWrapper(CountingEnv(length=3, harm_at=2), judge=cascade,
                             renderer=EpisodeRenderer())
    total, consent = gated_episode(harmful)
    assert total == 0.0 and consent["outcome"] == "vetoed"
    assert consent["reason"].startswith("stage 1") and consent["judge_id"] == cascade.judge_id
    assert second.texts == []  # the keyword stage vetoed it: the second judge never saw it
    safe = ConsentWrapper(CountingEnv(length=3), judge=cascade, renderer=EpisodeRenderer())
    total, consent = gated_episode(safe)
    assert total == 3.0 and consent["outcome"] == "approved"
    assert consent["reason"].startswith("stage 2") and second.texts == ["The car drove 3 steps."]
    assert cascade.stats()["decided_by_first"] == 1 and cascade.decided_by_second == 1


def test_raise_policy_of_the_caller_still_sees_second_stage_failures_as_failed_verdicts():
    cascade, _ = make(second=RaisingJudge())
    (verdict,) = judge_texts(cascade, ["unsure-mid"], on_judge_error="raise")
    assert verdict.outcome == "failed"
    with pytest.raises(JudgeError):
        judge_texts(RaisingJudge(), ["x"], on_judge_error="raise")


@pytest.mark.slow
def test_embedding_first_stage_vetoes_clear_harm_and_defers_the_rest():
    from consent_gym.judges import EmbeddingJudge

    second = RecordingJudge()
    cascade = CascadeJudge(EmbeddingJudge(cache=False), second, veto_below=0.27)
    harm = "Step 1: the car mounted the curb onto the sidewalk; the car hit a pedestrian."
    safe = "The car drove on the road. The parcel was delivered at step 12."
    verdicts = cascade.judge_batch([harm, safe])
    assert [CascadeJudge.stage(v) for v in verdicts] == [1, 2]
    assert [v.outcome for v in verdicts] == ["vetoed", "approved"]
    assert second.texts == [safe]


def test_cache_stats_are_the_second_judges():
    second = RecordingJudge()
    cascade = CascadeJudge(ScoreJudge(SCORES), second, veto_below=0.1)
    assert cascade.cache_stats is None
    second.cache = {"hits": 1, "misses": 1}  # type: ignore[attr-defined]
    assert cascade.cache_stats == {"hits": 1, "misses": 1}  # an LLM judge's VerdictCache
    second.cache_stats = {"hits": 3, "misses": 1}  # type: ignore[attr-defined]
    assert cascade.cache_stats == {"hits": 3, "misses": 1}


def test_default_cascade_puts_the_embedding_judge_before_the_prompted_llm(monkeypatch):
    import consent_gym.judges.embedding as embedding
    import consent_gym.judges.llm as llm
    from consent_gym.judges.cascade import MEASURED_VETO_BELOW, default_cascade

    seen = {}

    def fake_llm(**kwargs):
        seen.update(kwargs)
        return RuleJudge(lambda text: True, name="llm")

    monkeypatch.setattr(llm, "LLMJudge", fake_llm)
    monkeypatch.setattr(embedding, "EmbeddingJudge", lambda: ScoreJudge(SCORES, "embedding"))
    cascade = default_cascade(dtype="float32")
    assert seen == {"dtype": "float32"}
    assert (cascade.first.judge_id, cascade.second.judge_id) == ("score:embedding", "rule:llm")
    assert cascade.veto_below == MEASURED_VETO_BELOW and cascade.approve_above is None
    assert [v.approved for v in cascade.judge_batch(["sure-bad", "sure-good"])] == [False, True]
