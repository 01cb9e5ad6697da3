"""judge_trajectories (consent_gym.gate): render, judge, audit, no wrapper."""

from __future__ import annotations

import pytest

from consent_gym import AuditLog, read_audit_log
from consent_gym.gate import judge_trajectories
from consent_gym.judges import JudgePanel
from consent_gym.judges.views import parse_views
from consent_gym.render.views import PanelRenderer
from tests.fakes import FixedJudge, Informed, Surface, box_episode, no_people, perception_panel


def test_each_distinct_renderer_renders_once():
    surface = Surface()
    shared = Surface()
    judges = [FixedJudge(True, name="a"), FixedJudge(True, name="b"), FixedJudge(True, name="c")]
    panel = JudgePanel(judges, renderers=[surface, surface, None])
    assert panel.views == ("surface", "surface", "shared")
    judge_trajectories(panel, [box_episode("person"), box_episode("empty")], shared)
    assert (surface.calls, shared.calls) == (2, 2)


def test_shared_renderer_required_when_a_member_has_none():
    panel = JudgePanel([no_people, no_people], renderers=[None, Informed()])
    with pytest.raises(ValueError, match="shared"):
        PanelRenderer(panel)
    with pytest.raises(ValueError, match="shared"):
        judge_trajectories(panel, [box_episode("person")])
    verdict = judge_trajectories(panel, [box_episode("person")], Surface())[0]
    assert verdict.outcome == "vetoed" and verdict.flagged


def test_judge_trajectories_bad_input():
    panel, _, _ = perception_panel()
    with pytest.raises(TypeError, match="Trajectory"):
        judge_trajectories(panel, ["text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="AuditLog"):
        judge_trajectories(panel, [box_episode("empty")], audit_log="log.jsonl")


def test_delivery_renderer_perceptions_disagree_on_person_in_box():
    delivery = pytest.importorskip("consent_gym.render.delivery")
    panel = JudgePanel(
        [no_people, no_people],
        policy="unanimous",
        renderers=[delivery.DeliveryRenderer(perception="surface"),
                   delivery.DeliveryRenderer(perception="informed")],
    )
    verdict = judge_trajectories(panel, [box_episode("person")])[0]
    assert panel.views == ("surface", "informed")
    assert [m.outcome for m in verdict.members] == ["approved", "vetoed"]
    assert verdict.flagged and not verdict.approved


def test_disagreement_record_is_complete(tmp_path):
    panel, _, _ = perception_panel("unanimous")
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        judge_trajectories(panel, [box_episode("empty", 0), box_episode("person", 1)],
                           audit_log=log)
    quiet, flagged = list(read_audit_log(path))
    assert "text" not in quiet and not quiet["flagged"]
    assert flagged["flagged"] and flagged["episode_index"] == 1
    assert flagged["judge_id"] == panel.judge_id
    assert [m["judge_id"] for m in flagged["members"]] == ["rule:no-people", "rule:no-people"]
    assert [m["outcome"] for m in flagged["members"]] == ["approved", "vetoed"]
    views = parse_views(flagged["text"])
    assert views is not None
    assert views.members == (("rule:no-people", "surface"), ("rule:no-people", "informed"))
    assert views.member_texts() == [
        "Step 2: the car hit a box.",
        "Step 2: the car hit a box with a person inside.",
    ]


def test_a_single_judge_needs_a_renderer_and_every_audit_field_is_the_trajectorys(tmp_path):
    from consent_gym import Step, Trajectory
    from consent_gym.judges import RuleJudge

    judge = RuleJudge(lambda t: "box" not in t, name="no-box")
    with pytest.raises(ValueError, match="renderer="):
        judge_trajectories(judge, [box_episode("empty")])
    running = Trajectory("Road-v1", episode_index=7, steps=[Step(0, None, 0, 0.25),
                                                            Step(1, None, 1, 0.5)])
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        verdicts = judge_trajectories(judge, [box_episode("empty", 3), running], Surface(),
                                      audit_log=log)
    assert [v.outcome for v in verdicts] == ["vetoed", "approved"]
    # Ground truth from the trajectories themselves: ids, lengths, ends, returns.
    assert [(r["env_id"], r["episode_index"], r["steps_used"], r["episode_finished"],
             r["learner"], r["outcome"]) for r in read_audit_log(path)] == [
        ("Boxes-v0", 3, 3, True, "judge_trajectories", "vetoed"),
        ("Road-v1", 7, 2, False, "judge_trajectories", "approved"),
    ]
    released = [r["reward_released"] for r in read_audit_log(path)]
    assert released == [0.0, 0.75]  # vetoed: nothing; approved: 0.25 + 0.5
