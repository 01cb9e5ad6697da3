"""The one decision step: decide, ConsentSettings, ConsentStats, vetoed_rewards."""

from __future__ import annotations

import math
import pickle
import time

import pytest

from consent_gym import read_audit_log
from consent_gym.gate import ConsentSettings, ConsentStats, Piece, decide
from consent_gym.judges import JudgePanel, RuleJudge, Verdict
from tests.fakes import RaisingJudge


def judged(judge, stats, texts):
    """Ask ``judge`` about ``texts`` through the decision step, counting in ``stats``."""
    pieces = [Piece(text, 0.0) for text in texts]
    return [d.verdict for d in decide(ConsentSettings(judge), pieces, stats=stats)]


def test_stats_count_calls_vetoes_flags_and_timesteps():
    judge, stats = RuleJudge(lambda t: "hit" not in t, name="no-hit"), ConsentStats(history=True)
    assert judge.judge_id == "rule:no-hit"
    stats.timestep = 1024
    judged(judge, stats, ["road", "hit a pedestrian", "road"])
    stats.timestep = 2048
    judged(judge, stats, ["hit a box"])
    totals = stats.totals()
    assert totals["texts"] == 4 and totals["batches"] == 2 and totals["vetoed"] == 2
    assert totals["veto_rate"] == 0.5 and totals["flagged"] == 0 and totals["failed"] == 0
    assert [b.timestep for b in stats.calls] == [1024, 2048]
    assert stats.totals()["distinct_texts"] == 3
    assert stats.seen["road"]["count"] == 2 and stats.seen["road"]["approved"]
    assert not stats.seen["hit a box"]["approved"]
    assert totals["cache_hits"] is None  # a rule judge has no cache
    fresh = ConsentStats(history=True)
    assert fresh.totals()["texts"] == 0 and math.isnan(fresh.totals()["veto_rate"])


def test_stats_record_flag_timesteps_of_a_panel():
    lenient = RuleJudge(lambda t: "pedestrian" not in t, name="lenient")
    strict = RuleJudge(lambda t: "hit" not in t, name="strict")
    judge, stats = JudgePanel([lenient, strict], policy="unanimous"), ConsentStats(history=True)
    stats.timestep = 300
    verdicts = judged(judge, stats, ["hit a box", "road", "hit a box"])
    assert [v.approved for v in verdicts] == [False, True, False]
    assert stats.flag_timesteps() == [300, 300]
    assert stats.totals()["flagged"] == 2


def test_stats_count_a_failing_judge_as_failed_and_vetoed():
    stats = ConsentStats(history=True)
    verdicts = judged(RaisingJudge(), stats, ["anything"])
    assert not verdicts[0].approved and verdicts[0].failed
    assert stats.totals()["failed"] == 1 and stats.totals()["vetoed"] == 1


def test_stats_read_cache_hits():
    class Cached:
        judge_id = "cached"

        def __init__(self):
            self.cache_stats = {"hits": 0, "misses": 0}

        def judge_batch(self, texts):
            self.cache_stats["hits"] += len(texts) - 1
            self.cache_stats["misses"] += 1
            return [Verdict(True, 1.0, self.judge_id) for _ in texts]

    judge, stats = Cached(), ConsentStats(history=True)
    judged(judge, stats, ["a", "b", "c"])
    judged(judge, stats, ["a", "b"])
    judged(judge, stats, ["z"])  # a call with no hit adds none
    assert [c.cache_hits for c in stats.calls] == [2, 1, 0]
    assert stats.totals()["cache_hits"] == 3
    assert stats.totals()["seconds"] == stats.judge_seconds > 0




no_harm = RuleJudge(lambda t: "harm" not in t, name="no-harm")


@pytest.mark.parametrize(("mode", "vetoed_release"), [("zero", 0.0), ("penalty", -7.0),
                                                      ("block", 0.0)])
def test_decide_releases_the_return_or_the_vetoed_amount(mode, vetoed_release):
    settings = ConsentSettings(no_harm, mode=mode, penalty=-7.0)
    out = decide(settings, [Piece("fine", 3.5), Piece("harm done", 3.5)])
    assert [d.released for d in out] == [3.5, vetoed_release]
    assert [d.approved for d in out] == [True, False]


def test_decide_asks_once_per_batch_logs_every_verdict_and_syncs_before_returning(
    tmp_path, monkeypatch
):
    import os

    calls, order = [], []

    class Counting(RuleJudge):
        def judge_batch(self, texts):
            calls.append(list(texts))
            return super().judge_batch(texts)

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    settings = ConsentSettings(Counting(lambda t: "harm" not in t, name="c"),
                               audit_log=tmp_path / "audit.jsonl")
    out = decide(settings, [Piece("a", 1.0, "E-v0", 4, env_index=1, start=2, steps=3),
                            Piece("harm", 2.0)], learner="test")
    order.append("returned")
    assert calls == [["a", "harm"]] and len(out) == 2
    assert order == ["fsync", "returned"]
    settings.close()
    records = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert [(r["env_id"], r["episode_index"], r["env_index"], r["fragment_start"],
             r["steps_used"], r["learner"], r["reward_released"]) for r in records] == [
        ("E-v0", 4, 1, 2, 3, "test", 1.0), ("", -1, 0, 0, 0, "test", 0.0)]
    assert [(r["mode"], r["episode_finished"]) for r in records] == [("zero", True)] * 2


def test_decide_without_a_judge_names_the_fix():
    settings = pickle.loads(pickle.dumps(ConsentSettings(no_harm)))
    assert settings.judge is None
    with pytest.raises(RuntimeError, match="custom_objects"):
        decide(settings, [Piece("x", 0.0)])
    assert decide(settings, []) == []  # nothing to decide asks nothing


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "drop"}, ValueError, "mode='drop' is not supported"),
        ({"penalty": math.nan}, ValueError, "finite number"),
        ({"penalty": True}, ValueError, "finite number"),
        ({"on_judge_error": "maybe"}, ValueError, "on_judge_error"),
        ({"info_key": ""}, ValueError, "info_key"),
        ({"audit_log": 3}, TypeError, "audit_log"),
        ({"judge": object()}, TypeError, "RuleJudge"),
    ],
)
def test_settings_check_every_argument_once(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConsentSettings(**{"judge": no_harm, **kwargs})


def test_wrapper_modes_refuse_block_naming_the_learner_integrations():
    with pytest.raises(ValueError, match=r"consent_gym\.sb3"):
        ConsentSettings(no_harm, mode="block", modes=("zero", "penalty"))


def test_stats_pickle_without_their_per_text_record():
    stats = ConsentStats(history=True)
    judged(no_harm, stats, ["a", "harm"])
    again = pickle.loads(pickle.dumps(stats))
    assert again.judged == 2 and again.vetoed == 1 and again.calls == [] and again.seen == {}
    assert Verdict(True, 1.0, "x").approved


def test_the_judge_time_counted_is_within_the_time_the_call_took():
    stats = ConsentStats(history=True)
    outer_start = time.perf_counter()
    judged(no_harm, stats, ["a", "harm"])
    outer = time.perf_counter() - outer_start  # an outside stopwatch around the whole call
    assert 0.0 <= stats.last_latency_s <= outer
    assert stats.judge_seconds == stats.last_latency_s == stats.calls[0].seconds
