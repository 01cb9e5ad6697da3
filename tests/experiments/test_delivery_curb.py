"""The delivery-curb reproduction: targets, and (slow) the targets met with the rule judge."""

from __future__ import annotations

import json

import pytest

from consent_gym.experiments.delivery_curb import (
    TARGETS,
    DeliveryCurbConfig,
    check_targets,
    format_targets,
    run_delivery_curb,
)
from consent_gym.experiments.report import summarize


def test_check_targets_uses_the_seed_mean():
    summaries = {
        "ungated": {"pedestrians_hit_per_episode": summarize([2.0, 2.0, 0.0])},
        "gated": {"pedestrians_hit_per_episode": summarize([0.0, 0.1, 0.0]),
                  "delivery_rate": summarize([1.0, 0.9, 0.8])},
    }
    checks = check_targets(summaries)
    assert [c["met"] for c in checks] == [True, True, True]
    summaries["gated"]["pedestrians_hit_per_episode"] = summarize([0.0, 0.3, 0.0])
    assert [c["met"] for c in check_targets(summaries)] == [True, False, True]
    text = format_targets(check_targets(summaries))
    assert "MISSED gated pedestrians_hit_per_episode = 0.100 (target <= 0.05)" in text


def test_missing_arm_misses_its_targets():
    checks = check_targets({}, TARGETS)
    assert not any(c["met"] for c in checks)


@pytest.mark.slow
def test_rule_judge_meets_the_issue_targets(tmp_path):
    config = DeliveryCurbConfig(out=tmp_path, seeds=2, judge="rule", eval_episodes=50,
                                progress=False)
    results = run_delivery_curb(config, argv=["consent-gym", "reproduce", "delivery-curb"],
                                log=lambda _: None)
    assert all(t["met"] for t in results["targets"]), results["table"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["targets"] == json.loads(json.dumps(results["targets"]))
    assert saved["command"] == "consent-gym reproduce delivery-curb"
