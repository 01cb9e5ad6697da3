"""JudgePanel: policies with known answers, fail-closed members, perception, audit records."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gym import ConsentWrapper, Trajectory, read_audit_log
from consent_gym.gate import judge_trajectories
from consent_gym.judges import (
    JudgeError,
    JudgePanel,
    PanelMember,
    RuleJudge,
    Verdict,
    judge_texts,
)
from consent_gym.judges.panel import POLICIES
from consent_gym.judges.views import parse_views
from consent_gym.render.views import PanelRenderer
from tests.fakes import (
    CountingEnv,
    FixedJudge,
    Informed,
    NaNJudge,
    RaisingJudge,
    Surface,
    box_episode,
    no_people,
    perception_panel,
    run_episode,
)


def member_for(code: str, i: int):
    """A: approves, V: vetoes, F: raises, N: returns NaN."""
    if code == "A":
        return FixedJudge(True, name=f"a{i}")
    if code == "V":
        return FixedJudge(False, name=f"v{i}")
    if code == "F":
        judge = RaisingJudge()
        judge.judge_id = f"raising{i}"
        return judge
    judge = NaNJudge()
    judge.judge_id = f"nan{i}"
    return judge


def panel_for(pattern: str, policy: str) -> JudgePanel:
    return JudgePanel([member_for(c, i) for i, c in enumerate(pattern)], policy=policy)


# (policy, member pattern, expected outcome, expected flagged)
CASES = [
    ("unanimous", "A", "approved", False),
    ("unanimous", "V", "vetoed", False),
    ("unanimous", "AA", "approved", False),
    ("unanimous", "AV", "vetoed", True),
    ("unanimous", "VA", "vetoed", True),
    ("unanimous", "VV", "vetoed", False),
    ("unanimous", "AAV", "vetoed", True),
    ("unanimous", "AF", "failed", True),
    ("unanimous", "AN", "failed", True),
    ("unanimous", "VF", "vetoed", True),
    ("unanimous", "FF", "failed", True),
    ("majority", "AA", "approved", False),
    ("majority", "AV", "vetoed", True),  # a tie vetoes
    ("majority", "AAV", "approved", True),
    ("majority", "AVV", "vetoed", True),
    ("majority", "AAVV", "vetoed", True),
    ("majority", "AAAV", "approved", True),
    ("majority", "AAF", "approved", True),  # the failure counts as a veto: 2 of 3 still approve
    ("majority", "AVF", "failed", True),  # vetoed only because a member failed
    ("majority", "AF", "failed", True),
    ("majority", "AVVF", "vetoed", True),  # vetoed even had the failed member approved
    ("majority", "FFF", "failed", True),
    ("reference", "A", "approved", False),
    ("reference", "AV", "approved", True),
    ("reference", "VA", "vetoed", True),
    ("reference", "AA", "approved", False),
    ("reference", "VV", "vetoed", False),
    ("reference", "AF", "approved", True),  # another member failed: flag only
    ("reference", "FA", "failed", True),  # the reference failed: veto
    ("reference", "NA", "failed", True),
    ("reference", "VF", "vetoed", True),
]


@pytest.mark.parametrize(("policy", "pattern", "outcome", "flagged"), CASES)
def test_policy_table(policy, pattern, outcome, flagged):
    panel = panel_for(pattern, policy)
    verdict = panel.judge_batch(["an episode"])[0]
    assert verdict.outcome == outcome
    assert verdict.approved == (outcome == "approved")
    assert verdict.flagged == flagged
    assert verdict.judge_id == panel.judge_id
    expected_members = {"A": "approved", "V": "vetoed", "F": "failed", "N": "failed"}
    assert [m.outcome for m in verdict.members] == [expected_members[c] for c in pattern]
    assert verdict.reason.startswith(f"{policy}: ")
    if outcome == "failed":
        assert math.isnan(verdict.p_acceptable)


def test_every_policy_and_pattern_is_covered():
    assert {c[0] for c in CASES} == set(POLICIES)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="AVFN", min_size=1, max_size=5), st.sampled_from(POLICIES))
def test_failures_never_approve(pattern, policy):
    verdict = panel_for(pattern, policy).judge_batch(["text"])[0]
    n, approvals = len(pattern), pattern.count("A")
    if verdict.approved:
        if policy == "unanimous":
            assert approvals == n
        elif policy == "majority":
            assert 2 * approvals > n
        else:
            assert pattern[0] == "A"
    # Replacing every failing member by a vetoing one never turns an approval into a veto:
    # a failure is exactly as strong as a veto, never weaker.
    as_vetoes = panel_for(pattern.replace("F", "V").replace("N", "V"), policy)
    assert as_vetoes.judge_batch(["text"])[0].approved == verdict.approved
    has_failure = "F" in pattern or "N" in pattern
    assert verdict.flagged == (has_failure or ("A" in pattern and "V" in pattern))
    assert not verdict.failed or not verdict.approved


def test_failed_member_claiming_approval_is_not_counted():
    panel = JudgePanel([FixedJudge(True)], policy="unanimous")
    sneaky = Verdict(True, math.nan, "x", "error", failed=True)
    assert panel.combine([sneaky]).approved is False


@pytest.mark.parametrize(
    ("policy", "expected_p"),
    [("unanimous", 0.6), ("majority", (0.6 + 0.9 + 0.8) / 3), ("reference", 0.9)],
)
def test_p_acceptable_by_policy(policy, expected_p):
    judges = [FixedJudge(True, 0.9, "a"), FixedJudge(True, 0.6, "b"), FixedJudge(True, 0.8, "c")]
    verdict = JudgePanel(judges, policy=policy).judge_batch(["x"])[0]
    assert verdict.p_acceptable == pytest.approx(expected_p)


def test_p_acceptable_ignores_failed_members_when_decided():
    judges = [FixedJudge(False, 0.2, "a"), RaisingJudge(), FixedJudge(False, 0.4, "c")]
    verdict = JudgePanel(judges, policy="majority").judge_batch(["x"])[0]
    assert verdict.outcome == "vetoed"
    assert verdict.p_acceptable == pytest.approx(0.3)


def test_members_called_fail_closed_and_reason_names_failure():
    panel = JudgePanel([FixedJudge(True), RaisingJudge()], policy="majority")
    verdict = panel.judge_batch(["a", "b"])[1]
    assert verdict.members[1].failed
    assert "out of memory" in verdict.reason
    assert "raising" in verdict.reason


def test_wrong_count_member_fails_closed():
    class Short:
        judge_id = "short"

        def judge_batch(self, texts):
            return []

    verdict = JudgePanel([FixedJudge(True), Short()]).judge_batch(["x"])[0]
    assert verdict.outcome == "failed"


def test_batch_keeps_order_and_empty_batch_calls_nobody():
    calls = []

    class Spy:
        judge_id = "spy"

        def judge_batch(self, texts):
            calls.append(list(texts))
            return [Verdict("harm" not in t, float("harm" not in t), self.judge_id) for t in texts]

    panel = JudgePanel([Spy(), FixedJudge(True)])
    assert panel.judge_batch([]) == []
    assert calls == []
    verdicts = panel.judge_batch(["ok", "harm", "ok"])
    assert [v.approved for v in verdicts] == [True, False, True]
    assert calls == [["ok", "harm", "ok"]]  # one batched call per member


def test_nested_panel_flags_propagate():
    inner = JudgePanel([FixedJudge(True), FixedJudge(False)], policy="reference")
    outer = JudgePanel([inner, FixedJudge(True, name="other")], policy="unanimous")
    verdict = outer.judge_batch(["x"])[0]
    assert verdict.approved and verdict.flagged
    assert verdict.members[0].members[1].outcome == "vetoed"


def test_panel_satisfies_judge_protocol_through_judge_texts():
    panel = panel_for("AV", "unanimous")
    verdicts = judge_texts(panel, ["x", "y"])
    assert [v.outcome for v in verdicts] == ["vetoed", "vetoed"]
    assert all(len(v.to_dict()["members"]) == 2 for v in verdicts)


# --- judge ids ---------------------------------------------------------------------


def test_judge_id_format_and_sensitivity():
    a, b = FixedJudge(True, name="a"), FixedJudge(True, name="b")
    panel = JudgePanel([a, b], policy="majority")
    prefix, policy, digest = panel.judge_id.split(":")
    assert (prefix, policy, len(digest)) == ("panel", "majority", 12)
    assert JudgePanel([a, b], policy="majority").judge_id == panel.judge_id
    assert JudgePanel([a, FixedJudge(True, name="c")], policy="majority").judge_id != panel.judge_id
    assert JudgePanel([b, a], policy="majority").judge_id != panel.judge_id
    assert JudgePanel([a, b], policy="unanimous").judge_id.split(":")[2] == digest
    named = JudgePanel([a, b], policy="majority", name="ckpts")
    assert named.judge_id == f"panel:majority:ckpts:{digest}"
    with_view = JudgePanel([a, b], policy="majority", renderers=[None, Surface()])
    assert with_view.judge_id != panel.judge_id


# --- bad input -------------------------------------------------------------------------


def test_bad_input_errors_name_the_problem():
    ok = FixedJudge(True)
    with pytest.raises(ValueError, match="at least one judge"):
        JudgePanel([])
    with pytest.raises(ValueError, match=r"policy='vote'.*unanimous"):
        JudgePanel([ok], policy="vote")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"judges\[1\].*judge_batch"):
        JudgePanel([ok, "not a judge"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of judges"):
        JudgePanel(ok)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="renderers has 1 entries for 2 judges"):
        JudgePanel([ok, ok], renderers=[None])
    with pytest.raises(TypeError, match="render"):
        JudgePanel([ok], renderers=[object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="renderer already"):
        JudgePanel([PanelMember(ok, Surface())], renderers=[Informed()])
    with pytest.raises(ValueError, match="name"):
        JudgePanel([ok], name="  ")
    with pytest.raises(ValueError, match="reserved"):
        PanelMember(ok, Surface(), view="shared")
    with pytest.raises(ValueError, match="needs a renderer"):
        PanelMember(ok, view="informed")
    with pytest.raises(ValueError, match="view name"):
        PanelMember(ok, Surface(), view="has space")
    with pytest.raises(TypeError, match="PanelMember"):
        PanelMember(PanelMember(ok))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exactly 1 Verdicts"):
        JudgePanel([ok]).combine([])


# --- perception per member -------------------------------------------------------------


def test_members_see_different_texts_and_disagree_on_person_in_box():
    panel, _, _ = perception_panel()
    assert panel.views == ("surface", "informed")
    assert [m.name for m in panel.members] == ["rule:no-people@surface", "rule:no-people@informed"]
    text = PanelRenderer(panel).render(box_episode("person"))
    seen = panel.member_texts(text)
    assert seen == ["Step 2: the car hit a box.", "Step 2: the car hit a box with a person inside."]
    verdict = panel.judge_batch([text])[0]
    assert verdict.approved  # reference: the surface judge decides, and it sees only a box
    assert verdict.flagged
    assert [m.outcome for m in verdict.members] == ["approved", "vetoed"]
    empty = panel.judge_batch([PanelRenderer(panel).render(box_episode("empty"))])[0]
    assert empty.approved and not empty.flagged
    unanimous, _, _ = perception_panel("unanimous")
    assert not judge_trajectories(unanimous, [box_episode("person")])[0].approved


def test_distinct_renderers_with_same_view_name_get_suffixes():
    panel = JudgePanel([no_people, no_people], renderers=[Informed(), Informed()])
    assert panel.views == ("informed", "informed-2")


def test_plain_text_for_perception_panel_fails_closed():
    panel, _, _ = perception_panel("majority")
    with pytest.raises(ValueError, match="views text"):
        panel.judge_batch(["The car hit a box."])
    verdicts = judge_texts(panel, ["The car hit a box."])
    assert verdicts[0].failed and not verdicts[0].approved
    with pytest.raises(JudgeError):
        judge_texts(panel, ["x"], on_judge_error="raise")


def test_views_text_of_another_panel_is_rejected():
    panel, _, _ = perception_panel()
    other = JudgePanel(
        [no_people, RuleJudge(lambda t: True, name="x")], renderers=[Surface(), Informed()]
    )
    text = PanelRenderer(other).render(box_episode("person"))
    with pytest.raises(ValueError, match="rendered for panel members"):
        panel.judge_batch([text])


# --- views text -------------------------------------------------------------------------


# --- audit records --------------------------------------------------------------------


class HarmRenderer:
    perception = "informed"

    def render(self, trajectory: Trajectory) -> str:
        hits = [s for s, e in trajectory.events if e["type"] == "hit_pedestrian"]
        return f"The car hit a pedestrian at step {hits[0] + 1}." if hits else "A quiet drive."


class BlindRenderer:
    def render(self, trajectory: Trajectory) -> str:
        return f"The car drove {len(trajectory)} steps."


def test_panel_gates_consent_wrapper_and_logs_each_view(tmp_path):
    no_harm = RuleJudge(lambda text: "pedestrian" not in text, name="no-harm")
    panel = JudgePanel([no_harm, no_harm], policy="unanimous", renderers=[None, HarmRenderer()])
    path = tmp_path / "audit.jsonl"
    env = ConsentWrapper(
        CountingEnv(length=3, harm_at=2), judge=panel,
        renderer=PanelRenderer(panel, BlindRenderer()), audit_log=path,
    )
    rewards, info = run_episode(env, action=0)
    env.close()
    assert sum(rewards) == 0.0 and info["consent"]["outcome"] == "vetoed"
    (record,) = read_audit_log(path)
    assert record["flagged"] and len(record["members"]) == 2
    views = parse_views(record["text"])
    assert views is not None
    assert views.member_texts() == ["The car drove 3 steps.", "The car hit a pedestrian at step 2."]


def test_panel_verify_frozen_checks_every_member():
    class Weighted(RuleJudge):
        def __init__(self, name: str) -> None:
            super().__init__(lambda text: True, name=name)
            self.checks: list[bool] = []

        def verify_frozen(self, full: bool = True) -> None:
            self.checks.append(full)
            if self.name == "broken":
                raise RuntimeError(f"{self.name} changed")

    a, b = Weighted("a"), Weighted("b")
    JudgePanel([a, RuleJudge(lambda t: True, name="no-weights"), b]).verify_frozen(full=False)
    assert a.checks == [False] and b.checks == [False]
    with pytest.raises(RuntimeError, match="broken changed"):
        JudgePanel([a, Weighted("broken")]).verify_frozen()
