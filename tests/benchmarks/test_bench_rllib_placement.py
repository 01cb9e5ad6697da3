"""consent_gym.benchmarks.rllib_placement: the probes and the comparison (fast, no Ray)."""

from __future__ import annotations

import pickle

import pytest

pytest.importorskip("ray.rllib")

from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate

from consent_gym.benchmarks.rllib_placement import (
    ArmResult,
    LearnerProbe,
    ProbeJudge,
    busiest_judge_seconds,
    compare_arms,
    probe_factory,
    read_jsonl,
)
from tests.rllib.test_rllib_gate import episode


def test_probe_judge_logs_where_it_was_built_and_each_call(tmp_path):
    log = tmp_path / "judge.jsonl"
    factory = pickle.loads(pickle.dumps(probe_factory("rule", log, sleep_per_text=0.01)))
    judge = factory()
    verdicts = judge.judge_batch(["The car hit a pedestrian.", "The car drove on."])
    assert [v.approved for v in verdicts] == [False, True]
    built, call = read_jsonl(log)
    assert built["event"] == "built" and call["event"] == "call"
    assert call["texts"] == 2 and call["seconds"] >= 0.02
    assert judge.judge_id.startswith("probe:")


def test_the_failing_probe_raises_and_bad_sleeps_are_refused(tmp_path):
    with pytest.raises(RuntimeError, match="on purpose"):
        ProbeJudge("fail", str(tmp_path / "j.jsonl")).judge_batch(["x"])
    assert read_jsonl(tmp_path / "j.jsonl")[-1]["texts"] == 1  # the failed call is logged
    with pytest.raises(ValueError, match=">= 0"):
        ProbeJudge("rule", str(tmp_path / "j.jsonl"), sleep_per_call=-1.0)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_the_learner_probe_records_what_gae_reads(tmp_path):
    log = tmp_path / "gae.jsonl"
    ep = episode("road", (1.0, 2.0), terminated=False, truncated=True)
    batch, shared = {}, {}
    AddOneTsToEpisodesAndTruncate()(rl_module=None, batch=batch, episodes=[ep],
                                     shared_data=shared)
    LearnerProbe(str(log))(rl_module=None, batch=batch, episodes=[ep], shared_data=shared)
    (row,) = read_jsonl(log)
    assert (row["reward_sum"], row["steps"], row["terminated"], row["truncated"]) == (
        3.0, 2, False, True)


def arm(placement, verdicts, gae, weights="w"):
    return ArmResult(placement, "rule", 0, 1, 0.0, [1.0], [1], True, 1, 1.0, 1.0, 0.0, 0.0,
                     1, 1, 0, "", {}, weights, reached_gae=gae, verdicts=verdicts)


def test_compare_arms_says_what_differs():
    verdicts = [{"text_sha256": "a", "outcome": "vetoed", "released": 0.0},
                {"text_sha256": "b", "outcome": "approved", "released": 3.0}]
    gae = [{"text_sha256": "a", "reward_sum": 0.0, "terminated": True, "truncated": False},
           {"text_sha256": "b", "reward_sum": 3.0, "terminated": True, "truncated": False}]
    same = compare_arms(arm("callback", verdicts, gae), arm("connector", verdicts, gae))
    assert same["same_verdicts"] and same["same_reached_gae"] and same["same_weights"]
    assert same["same_verdict_order"]
    swapped = compare_arms(arm("callback", verdicts, gae), arm("connector", verdicts[::-1], gae))
    assert swapped["same_verdicts"] and not swapped["same_verdict_order"]
    assert same["vetoed_reward_sums_at_gae"] == [0.0]
    assert same["vetoed_episodes_at_gae"] == [1, 1]
    leaked = [{**gae[0], "reward_sum": 2.0}, gae[1]]
    other = compare_arms(arm("callback", verdicts, gae),
                         arm("connector", verdicts, leaked, weights="v"))
    assert not other["same_reached_gae"] and not other["same_weights"]
    assert other["vetoed_reward_sums_at_gae"] == [0.0, 2.0]


def test_the_busiest_process_is_the_one_that_judged_longest():
    calls = [{"pid": 1, "seconds": 0.5}, {"pid": 2, "seconds": 0.25}, {"pid": 1, "seconds": 0.5}]
    assert busiest_judge_seconds(calls) == 1.0
    assert busiest_judge_seconds([]) == 0.0
