"""The one decision step: decide, ConsentSettings, ConsentStats, vetoed_rewards."""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest

from consent_gym import AuditLog, read_audit_log
from consent_gym.gate import (
    ConsentSettings,
    ConsentStats,
    JudgeCall,
    Piece,
    check_mode,
    check_penalty,
    decide,
)
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
    assert totals["prefetched"] == 0 and stats.last_prefetched == 0  # no pipeline
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


def test_stats_record_counts_every_field_of_each_call():
    class Cached:
        judge_id = "cached"

    judge = Cached()
    ok, no = Verdict(True, 1.0, "c"), Verdict(False, 0.0, "c")
    failed = Verdict(False, math.nan, "c", failed=True)
    flagged = Verdict(True, 0.6, "c", flagged=True)
    pieces = [Piece("a", 1.0, steps=3), Piece("b", 1.0, steps=4), Piece("c", 1.0, steps=5),
              Piece("a", 1.0, steps=6)]
    kept, plain = ConsentStats(history=True), ConsentStats()
    for stats in (kept, plain):
        stats.cache_start, stats.timestep = (5.0, 10.0), 10
        judge.cache_stats = {"hits": 7, "misses": 6}
        stats.record(pieces, [ok, no, failed, flagged], 0.25, judge)
        assert (stats.judge_calls, stats.judge_seconds, stats.judged, stats.vetoed,
                stats.failed, stats.flagged, stats.used_steps, stats.vetoed_steps) == (
            1, 0.25, 4, 2, 1, 1, 18, 9)
        assert (stats.last_judged, stats.last_vetoed, stats.last_latency_s, stats.last_steps,
                stats.last_vetoed_steps, stats.cache_now) == (4, 2, 0.25, 18, 9, (7.0, 13.0))
        judge.cache_stats = {"hits": 9, "misses": 7}
        stats.timestep = 20
        stats.record([Piece("d", 0.0, steps=2)], [no], 0.5, judge)
        assert (stats.judge_calls, stats.judge_seconds, stats.judged, stats.vetoed,
                stats.failed, stats.flagged, stats.used_steps, stats.vetoed_steps) == (
            2, 0.75, 5, 3, 1, 1, 20, 11)
        assert (stats.last_judged, stats.last_vetoed, stats.last_latency_s, stats.last_steps,
                stats.last_vetoed_steps) == (1, 1, 0.5, 2, 2)
        stats.record([], [], 0.125, judge)  # an empty call is no judge call
        assert (stats.judge_calls, stats.judge_seconds, stats.last_judged,
                stats.last_steps) == (2, 0.75, 0, 0)
    assert plain.calls == [] and plain.seen == {}
    assert kept.calls == [JudgeCall(10, 4, 2, 1, 1, 0.25, 2), JudgeCall(20, 1, 1, 0, 0, 0.5, 2)]
    assert kept.seen == {
        "a": {"text": "a", "count": 2, **ok.to_dict()},
        "b": {"text": "b", "count": 1, **no.to_dict()},
        "c": {"text": "c", "count": 1, **failed.to_dict()},
        "d": {"text": "d", "count": 1, **no.to_dict()},
    }
    assert kept.totals()["cache_hits"] == 4


def test_settings_defaults_and_who_owns_the_log(tmp_path):
    settings = ConsentSettings()
    assert (settings.judge, settings.mode, settings.penalty, settings.audit_log,
            settings.on_judge_error, settings.info_key, settings.owns_log) == (
        None, "zero", -100.0, None, "veto", "consent", False)
    owned = ConsentSettings(no_harm, audit_log=tmp_path / "a.jsonl")
    assert isinstance(owned.audit_log, AuditLog) and owned.owns_log
    owned.close()
    with pytest.raises(ValueError):  # closed by the settings that opened it
        owned.audit_log.write({"x": 1})
    log = AuditLog(tmp_path / "b.jsonl")
    given = ConsentSettings(no_harm, audit_log=log)
    assert given.audit_log is log and not given.owns_log
    given.close()
    log.write({"x": 1})  # still open: whoever opened it closes it
    log.close()


@pytest.mark.parametrize("penalty", [-5, -2.5, np.int64(-3), np.float32(-1.5)])
def test_check_penalty_accepts_finite_numbers_as_floats(penalty):
    value = check_penalty(penalty)
    assert type(value) is float and value == float(penalty)


@pytest.mark.parametrize("penalty", [False, "-5", None, math.inf, -math.inf, np.float64("nan")])
def test_check_penalty_refuses_anything_else_naming_it(penalty):
    with pytest.raises(ValueError) as info:
        check_penalty(penalty)
    assert str(info.value) == f"penalty must be a finite number, got {penalty!r}."


def test_check_mode_names_the_choices_and_where_block_works():
    check_mode("penalty")
    check_mode("zero", ("zero",))
    with pytest.raises(ValueError) as info:
        check_mode("drop", ("zero", "penalty"))
    assert str(info.value) == "mode='drop' is not supported here; use one of ('zero', 'penalty')."
    with pytest.raises(ValueError) as info:
        check_mode("block", ("zero", "penalty"))
    assert str(info.value) == (
        "mode='block' is not supported here; use one of ('zero', 'penalty'). 'block' keeps "
        "vetoed steps out of the gradient, which only the learner can do: use "
        "consent_gym.sb3 or consent_gym.rollout.RolloutConsent.")


def test_stats_cache_hits_of_a_call_are_unknown_without_counts_on_both_sides():
    """A call's cache hits are its counter's rise: unknown (None) when the counts before it
    (no ``cache_start``) or after it (the judge stopped exposing them) are missing."""

    class Cached:
        judge_id = "cached"

        def __init__(self) -> None:
            self.cache_stats: dict | None = {"hits": 3, "misses": 1}

    judge, ok = Cached(), Verdict(True, 1.0, "c")
    stats = ConsentStats(history=True)  # no cache_start: nothing to subtract from
    stats.record([Piece("a", 1.0, steps=1)], [ok], 0.1, judge)
    judge.cache_stats = None  # counts gone after a first call that had them
    stats.record([Piece("b", 1.0, steps=1)], [ok], 0.1, judge)
    assert [call.cache_hits for call in stats.calls] == [None, None]
