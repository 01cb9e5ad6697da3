"""Pipelined judging: verdicts computed ahead are the same, overlap with stepping, fail
closed, are never used without an audit line, and the frozen check still runs."""

from __future__ import annotations

import pickle
import signal
import threading
import time

import numpy as np
import pytest

from consent_gym import RolloutConsent, read_audit_log
from consent_gym.audit import text_sha256
from consent_gym.gate import ConsentSettings, ConsentStats, Piece, decide, submit_to_pipeline
from consent_gym.judge_pipeline import JudgePipeline
from consent_gym.judges import FrozenJudgeError, JudgeError, RuleJudge, Verdict
from consent_gym.judges.base import failed_verdict
from consent_gym.judges.cache import VerdictCache


class SlowJudge:
    """Vetoes texts with "harm"; sleeps ``seconds`` per call; records every call.

    ``fail`` maps a text to how many more calls including it raise (``error``, a
    RuntimeError unless set); ``failed_for`` to how many more calls return a failed verdict
    for it; ``frozen`` raises FrozenJudgeError. A call with a text in ``hold`` sets
    ``holding`` and waits until ``release`` is set (at most ``hold_s``).
    """

    def __init__(self, seconds: float = 0.0, *, thread_safe: bool = False) -> None:
        self.judge_id = "slow-rule"
        self.seconds = seconds
        self.thread_safe = thread_safe
        self.calls: list[list[str]] = []
        self.call_times: list[float] = []  # time.perf_counter() as each call began
        self.fail: dict[str, int] = {}
        self.failed_for: dict[str, int] = {}
        self.frozen = False
        self.error: type[BaseException] = RuntimeError
        self.hold: set[str] = set()
        self.hold_s = 3.0
        self.holding = threading.Event()
        self.release = threading.Event()
        self.checks = 0
        self.fulls: list[bool] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def verify_frozen(self, full: bool = True) -> None:
        self.checks += 1
        self.fulls.append(full)
        if self.frozen:
            raise FrozenJudgeError("the weights changed")

    def judge_batch(self, texts):
        with self._lock:
            self.calls.append(list(texts))
            self.call_times.append(time.perf_counter())
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.seconds)
            if self.hold.intersection(texts):
                self.holding.set()
                self.release.wait(self.hold_s)
            if self.frozen:
                raise FrozenJudgeError("the weights changed")
            out = []
            for text in texts:
                if self.fail.get(text, 0) > 0:
                    self.fail[text] -= 1
                    raise self.error(f"server gone while judging {text!r}")
                if self.failed_for.get(text, 0) > 0:
                    self.failed_for[text] -= 1
                    out.append(failed_verdict(self.judge_id, "time-out"))
                    continue
                ok = "harm" not in text
                out.append(Verdict(ok, 0.9 if ok else 0.1, self.judge_id, "rule"))
            return out
        finally:
            with self._lock:
                self.active -= 1

    def judged(self, text: str) -> int:
        return sum(call.count(text) for call in self.calls)


TEXTS = ["road", "harm: hit pedestrian", "road again", "harm twice", "road"]


def pieces(texts=TEXTS) -> list[Piece]:
    return [Piece(t, float(i + 1), "Toy-v0", i, steps=2) for i, t in enumerate(texts)]


@pytest.fixture
def settings_pair(tmp_path):
    made = []

    def make(judge, **kwargs):
        s = ConsentSettings(judge, audit_log=tmp_path / f"audit{len(made)}.jsonl", **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


# ------------------------------------------------------------------ same verdicts
def test_decisions_with_and_without_the_pipeline_are_identical(settings_pair, tmp_path):
    plain = settings_pair(SlowJudge())
    piped = settings_pair(SlowJudge(), pipeline=True)
    assert submit_to_pipeline(piped, TEXTS) == 4  # "road" twice: judged once
    stats = ConsentStats()
    with_pipe = decide(piped, pieces(), stats=stats, learner="t")
    without = decide(plain, pieces(), learner="t")
    assert [(d.verdict, d.released) for d in with_pipe] == [
        (d.verdict, d.released) for d in without]
    assert stats.prefetched == 5 and stats.last_prefetched == 5
    assert piped.pipeline is not None and piped.pipeline.pending == 0
    # the decision made no judge call of its own, but the (cheap) frozen check ran
    assert piped.judge.checks == 1 and piped.judge.fulls == [False]
    assert len(piped.judge.calls) >= 1
    assert sum(len(c) for c in piped.judge.calls) == 4
    # one audit line per verdict used, saying it was computed ahead
    lines = list(read_audit_log(tmp_path / "audit1.jsonl"))
    assert [line["text_sha256"] for line in lines] == [text_sha256(t) for t in TEXTS]
    assert all(line["prefetched"] is True for line in lines)
    assert [line["approved"] for line in lines] == [d.approved for d in without]
    assert "prefetched" not in next(iter(read_audit_log(tmp_path / "audit0.jsonl")))


def test_pieces_not_sent_ahead_are_judged_by_decide_in_one_call(settings_pair, tmp_path):
    judge = SlowJudge()
    piped = settings_pair(judge, pipeline=True)
    submit_to_pipeline(piped, TEXTS[:2])
    decisions = decide(piped, pieces(), learner="t")
    assert [d.approved for d in decisions] == [True, False, True, False, True]
    # the rest in one call ("road" again: the same text takes the same verdict)
    assert judge.calls[-1] == ["road again", "harm twice"]
    lines = list(read_audit_log(tmp_path / "audit0.jsonl"))
    assert [line["prefetched"] for line in lines] == [True, True, False, False, True]


def test_verdicts_of_another_judge_are_never_taken():
    first, second = SlowJudge(), SlowJudge()
    second.judge_id = "another-lock"
    pipeline = JudgePipeline(workers=1)
    pipeline.submit(first, ["road"])
    assert pipeline.take(second, ["road"]) == [None]
    assert pipeline.take(first, ["road"])[0].approved
    pipeline.close()


def test_decide_calls_a_judge_that_is_not_thread_safe_only_after_the_prefetch_call(
        settings_pair):
    judge = SlowJudge()
    judge.hold, judge.hold_s = {"in flight"}, 0.3
    piped = settings_pair(judge, pipeline=True)
    submit_to_pipeline(piped, ["in flight"])
    assert judge.holding.wait(5)
    (decision,) = decide(piped, pieces(["not sent"]))  # judged by decide itself
    assert decision.approved
    assert judge.calls == [["in flight"], ["not sent"]] and judge.most_active == 1


@pytest.mark.parametrize("on_judge_error", ["raise", "approve"])
def test_decide_judges_what_was_not_sent_ahead_under_the_settings_failure_policy(
        settings_pair, on_judge_error):
    judge = SlowJudge()
    judge.fail["not sent"] = 1
    piped = settings_pair(judge, pipeline=True, on_judge_error=on_judge_error)
    submit_to_pipeline(piped, ["road"])
    if on_judge_error == "raise":
        with pytest.raises(JudgeError, match="server gone"):
            decide(piped, pieces(["road", "not sent"]))
        return
    road, not_sent = decide(piped, pieces(["road", "not sent"]))
    assert road.approved and not road.verdict.failed
    assert not_sent.approved and not_sent.verdict.failed  # "approve": failures release


# ------------------------------------------------------------------ overlap
def run_rollout(settings: ConsentSettings, T: int = 40, N: int = 2, length: int = 4,
                step_s: float = 0.02) -> tuple[float, list]:
    """A loop stepping N sub-envs (each step sleeps ``step_s``), episodes of ``length``
    steps; returns when the last step ended (``time.perf_counter()``), and the decisions."""
    consent = RolloutConsent(settings, N, gamma=1.0, gae_lambda=1.0)
    starts = np.zeros((T, N), dtype=bool)
    starts[0] = True
    serial = 0
    for t in range(T):
        time.sleep(step_s)  # the envs and the policy
        done = (t + 1) % length == 0
        infos = []
        for _ in range(N):
            text = f"episode {serial} {'harm' if serial % 3 == 0 else 'road'}"
            infos.append({"consent": {"text": text, "length": length, "episode_return": 4.0,
                                      "pending": True}} if done else {})
            serial += done
        consent.record_step(t, [done] * N, infos)
        if done and t + 1 < T:
            starts[t + 1] = True
    stepped = time.perf_counter()
    batch = consent.process({}, rewards=np.ones((T, N)), values=np.zeros((T, N)),
                            starts=starts)
    return stepped, batch.decisions


def test_prefetch_overlaps_judging_with_stepping(settings_pair):
    # 20 episodes end (2 every 4 steps of 0.02 s). Without the pipeline every episode is
    # judged in one call after the last step; with it, episodes are judged while the envs
    # step. Asserted by order, not by wall time: a stall of the shared machine stretches one
    # run and not the other (a 0.4 s wall-time margin failed once in CI: piped 1.48 s,
    # plain 1.42 s).
    plain_judge, piped_judge = SlowJudge(0.04), SlowJudge(0.04)
    plain_stepped, plain = run_rollout(settings_pair(plain_judge))
    piped_stepped, piped = run_rollout(settings_pair(piped_judge, pipeline=True))
    assert [d.verdict for d in piped] == [d.verdict for d in plain] and len(piped) == 20
    assert len(plain_judge.calls) == 1 and plain_judge.call_times[0] >= plain_stepped
    # the envs step for 0.8 s; judging each ended episode as it ends starts calls long
    # before that (the first two episodes end at 0.08 s)
    during = [t for t in piped_judge.call_times if t < piped_stepped]
    assert len(during) >= 2, (piped_judge.call_times, piped_stepped)
    assert sum(len(c) for c in piped_judge.calls) == 20  # each episode judged once


def test_thread_safe_judges_get_several_batches_in_flight():
    judge = SlowJudge(0.2, thread_safe=True)
    pipeline = JudgePipeline(workers=3, max_batch=1)
    pipeline.submit(judge, ["a", "b", "c"])
    assert all(v is not None for v in pipeline.take(judge, ["a", "b", "c"]))
    # three calls in flight at once (counted, not timed: a machine stall breaks a time bound)
    assert judge.most_active == 3
    # a judge that does not say it is thread-safe is called by one thread at a time
    serial = SlowJudge(0.05)
    pipeline.submit(serial, ["a", "b", "c", "d"])
    pipeline.take(serial, ["a", "b", "c", "d"])
    assert serial.most_active == 1
    pipeline.close()


def test_queued_texts_go_together_up_to_max_batch():
    judge = SlowJudge(0.1)
    pipeline = JudgePipeline(workers=1, max_batch=3)
    pipeline.submit(judge, ["first"])
    time.sleep(0.03)  # the worker is busy with "first"; the next four queue up
    pipeline.submit(judge, ["a", "b", "c", "d"])
    pipeline.take(judge, ["first", "a", "b", "c", "d"])
    assert judge.calls == [["first"], ["a", "b", "c"], ["d"]]
    pipeline.close()


# ------------------------------------------------------------------ failures fail closed
def test_a_failed_prefetch_is_judged_again_by_decide(settings_pair, tmp_path):
    judge = SlowJudge()
    judge.fail["harm twice"] = 1  # the prefetch batch holding it raises
    judge.failed_for["road again"] = 1  # the prefetch gives a failed verdict
    piped = settings_pair(judge, pipeline=JudgePipeline(workers=1, max_batch=1))
    submit_to_pipeline(piped, TEXTS)
    decisions = decide(piped, pieces(), learner="t")
    assert [d.verdict.outcome for d in decisions] == [
        "approved", "vetoed", "approved", "vetoed", "approved"]
    assert judge.calls[-1] == ["road again", "harm twice"]  # judged again, once
    assert piped.pipeline.failed == 2 and piped.pipeline.used == 2
    lines = list(read_audit_log(tmp_path / "audit0.jsonl"))
    assert [line["prefetched"] for line in lines] == [True, True, False, False, True]
    piped.pipeline.close()


def test_a_prefetch_that_fails_and_then_the_judge_too_is_a_veto(settings_pair):
    judge = SlowJudge()
    judge.fail["road"] = 2  # the prefetch and decide's own call both raise
    piped = settings_pair(judge, pipeline=True)
    submit_to_pipeline(piped, ["road"])
    (decision,) = decide(piped, pieces(["road"]))
    assert decision.verdict.outcome == "failed" and not decision.approved
    assert decision.released == 0.0


def test_a_prefetch_that_times_out_is_not_waited_for_nor_trusted(settings_pair):
    judge = SlowJudge(1.0)
    pipeline = JudgePipeline(workers=1, wait_s=0.1)
    piped = settings_pair(judge, pipeline=pipeline)
    submit_to_pipeline(piped, ["road"])
    time.sleep(0.02)
    judge.seconds = 0.0
    start = time.perf_counter()
    (decision,) = decide(piped, pieces(["road"]))
    # waited 0.1 s, then judged it itself (once the worker's call released the judge)
    assert decision.approved and pipeline.timed_out == 1 and pipeline.used == 0
    assert judge.judged("road") == 2 and time.perf_counter() - start < 1.5
    pipeline.close()


def test_a_frozen_error_in_a_prefetch_stops_the_decision(settings_pair):
    judge = SlowJudge()
    piped = settings_pair(judge, pipeline=True)
    judge.frozen = True
    submit_to_pipeline(piped, ["road"])
    with pytest.raises(FrozenJudgeError):
        decide(piped, pieces(["road"]))
    judge.frozen = False  # even a judge that answers again: the error stays raised
    with pytest.raises(FrozenJudgeError):
        decide(piped, pieces(["other"]))


def test_the_frozen_check_runs_when_every_verdict_was_computed_ahead(settings_pair):
    judge = SlowJudge()
    piped = settings_pair(judge, pipeline=True)
    submit_to_pipeline(piped, ["road"])
    piped.pipeline.take(judge, [])  # (nothing taken)
    time.sleep(0.05)
    judge.frozen = True  # the weights change after the prefetch, before the decision
    with pytest.raises(FrozenJudgeError):
        decide(piped, pieces(["road"]))


def test_a_closed_pipeline_leaves_every_text_to_decide(settings_pair):
    judge = SlowJudge(0.2)
    pipeline = JudgePipeline(workers=1, max_batch=1)  # "queued" waits behind "first"
    piped = settings_pair(judge, pipeline=pipeline)
    submit_to_pipeline(piped, ["first", "queued"])
    time.sleep(0.02)
    pipeline.close()
    assert submit_to_pipeline(piped, ["later"]) == 0 and pipeline.skipped == 1
    judge.seconds = 0.0
    decisions = decide(piped, pieces(["first", "queued", "later"]))
    assert [d.approved for d in decisions] == [True, True, True]
    assert judge.judged("queued") == 1 and judge.judged("later") == 1


def test_no_verdict_is_used_without_its_audit_line(settings_pair, tmp_path):
    # verdicts computed ahead but never decided on are never logged, nor released
    judge = SlowJudge()
    piped = settings_pair(judge, pipeline=True)
    submit_to_pipeline(piped, ["road", "never decided"])
    decisions = decide(piped, pieces(["road"]))
    lines = list(read_audit_log(tmp_path / "audit0.jsonl"))
    assert len(decisions) == len(lines) == 1 and lines[0]["text_sha256"] == text_sha256("road")
    assert piped.pipeline.pending == 1


# ------------------------------------------------------------------ taking, counting, threads
def test_take_waits_only_as_long_as_its_own_wait_s():
    judge = SlowJudge()
    judge.hold = {"held"}
    pipeline = JudgePipeline(workers=1, wait_s=None)
    pipeline.submit(judge, ["held"])
    assert judge.holding.wait(5)
    # the judge answers only once released (at most 3 s): take's own limit, not the
    # pipeline's (none), says when to give up
    assert pipeline.take(judge, ["held"], wait_s=0.05) == [None]
    assert pipeline.timed_out == 1 and pipeline.used == 0
    judge.release.set()
    pipeline.close()


def test_a_pipeline_without_a_time_limit_waits_for_its_verdicts():
    judge = SlowJudge(0.05)
    pipeline = JudgePipeline(workers=1, wait_s=None)
    assert pipeline.wait_s is None
    pipeline.submit(judge, ["road", "harm"])
    verdicts = pipeline.take(judge, ["road", "harm"])
    assert [v.approved for v in verdicts] == [True, False]
    assert pipeline.used == 2 and pipeline.timed_out == 0
    pipeline.close()


def test_each_text_is_looked_up_whatever_comes_before_it():
    judge = SlowJudge()
    pipeline = JudgePipeline(workers=1)
    pipeline.submit(judge, ["road", "harm"])
    verdicts = pipeline.take(judge, ["never sent", "road", "also never sent", "harm"])
    assert verdicts[0] is None and verdicts[2] is None
    assert verdicts[1].approved and not verdicts[3].approved
    assert pipeline.used == 2 and pipeline.pending == 0
    pipeline.close()


def test_a_text_sent_twice_is_kept_until_both_decisions_took_it():
    # two episodes with the same text, decided by two calls (e.g. two rollouts)
    judge = SlowJudge()
    pipeline = JudgePipeline(workers=1)
    assert pipeline.submit(judge, ["road"]) == 1
    assert pipeline.submit(judge, ["road", "harm"]) == 1  # "road" held already: not again
    assert pipeline.submitted == 2
    assert pipeline.take(judge, ["road"])[0].approved
    assert pipeline.pending == 2  # "road" for the second decision, and "harm"
    road, harm = pipeline.take(judge, ["road", "harm"])
    assert road.approved and not harm.approved
    assert pipeline.pending == 0 and pipeline.used == 3 and judge.judged("road") == 1
    assert pipeline.take(judge, ["road"]) == [None]  # taken by both: released
    pipeline.close()


def test_every_time_out_is_counted_and_the_verdicts_ready_are_still_used():
    judge = SlowJudge()
    judge.hold = {"slow"}
    pipeline = JudgePipeline(workers=1, max_batch=1)
    pipeline.submit(judge, ["ready", "slow", "queued behind it"])
    assert judge.holding.wait(5)  # the one thread judged "ready" first, then "slow"
    verdicts = pipeline.take(judge, ["slow", "queued behind it", "ready"], wait_s=0.05)
    assert verdicts[:2] == [None, None] and verdicts[2].approved
    assert pipeline.timed_out == 2 and pipeline.used == 1 and pipeline.failed == 0
    judge.release.set()
    pipeline.close()


def test_texts_dropped_by_close_fail_and_the_verdicts_ready_are_still_used():
    judge = SlowJudge()
    judge.hold = {"in flight"}
    pipeline = JudgePipeline(workers=1, max_batch=1)
    pipeline.submit(judge, ["ready", "in flight", "queued", "queued too"])
    assert judge.holding.wait(5)
    pipeline.close()  # drops the two queued texts; the call in flight finishes
    judge.release.set()
    verdicts = pipeline.take(judge, ["queued", "queued too", "ready", "in flight"])
    assert verdicts[:2] == [None, None]
    assert verdicts[2].approved and verdicts[3].approved
    assert pipeline.failed == 2 and pipeline.used == 2 and pipeline.timed_out == 0
    assert judge.judged("queued") == 0 and judge.judged("queued too") == 0


class Interrupted(BaseException):
    """Not an ``Exception``: ``judge_texts`` lets it through, as a KeyboardInterrupt."""


def test_a_judge_call_that_raises_a_base_exception_fails_and_the_thread_goes_on():
    judge = SlowJudge()
    judge.error = Interrupted
    judge.fail["interrupted"] = 1
    pipeline = JudgePipeline(workers=1, wait_s=2.0)
    pipeline.submit(judge, ["interrupted"])
    assert pipeline.take(judge, ["interrupted"]) == [None]  # at once, not after 2 s
    assert pipeline.failed == 1 and pipeline.timed_out == 0
    pipeline.submit(judge, ["road"])  # the same thread judges the next text
    assert pipeline.take(judge, ["road"])[0].approved
    pipeline.close()


def test_an_interrupt_while_take_waits_is_raised_not_counted_as_a_failed_prefetch():
    # Ctrl-C (here: a signal handler's exception) while the decision waits for a verdict
    # in flight stops the caller; it is not the prefetch's failure, to judge around
    judge = SlowJudge()
    judge.hold = {"held"}
    pipeline = JudgePipeline(workers=1)
    pipeline.submit(judge, ["held"])
    assert judge.holding.wait(5)

    def interrupt(signum, frame):
        raise Interrupted("Ctrl-C")

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with pytest.raises(Interrupted):
            threading.Timer(0.05, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGUSR1)).start()
            pipeline.take(judge, ["held"])
    finally:
        signal.signal(signal.SIGUSR1, previous)
        judge.release.set()
    assert pipeline.failed == 0 and pipeline.timed_out == 0
    pipeline.close()


class ThreadSafeJudge:
    """A thread-safe judge that approves every text. ``asking``: the first two pipeline
    threads to ask whether it is thread-safe wait there for each other (so both go for a
    batch of it while ONE text is queued: one finds nothing to take). ``meeting``: each
    call waits until another call is in flight (at most 2 s, then it raises: failed)."""

    def __init__(self, judge_id: str, *, asking: bool = False, meeting: bool = False) -> None:
        self.judge_id = judge_id
        self.asking = threading.Barrier(2, timeout=5) if asking else None
        self.meeting = threading.Barrier(2, timeout=2) if meeting else None
        self.asked = 0
        self._lock = threading.Lock()

    @property
    def thread_safe(self) -> bool:
        with self._lock:
            self.asked += 1
            first_two = self.asked <= 2
        if self.asking is not None and first_two:
            self.asking.wait()
        return True

    def judge_batch(self, texts):
        if self.meeting is not None:
            self.meeting.wait()
        return [Verdict(True, 0.9, self.judge_id, "rule") for _ in texts]


def test_a_thread_that_found_nothing_to_take_keeps_working():
    asking = ThreadSafeJudge("asking", asking=True)
    meeting = ThreadSafeJudge("meeting", meeting=True)
    pipeline = JudgePipeline(workers=2, max_batch=1)
    pipeline.submit(asking, ["alone"])  # both threads go for it: one finds nothing
    assert pipeline.take(asking, ["alone"])[0].approved
    # both threads are still there: two calls in flight at once (the one that found
    # nothing was taking texts of the first judge only, so it found nothing whenever it ran)
    pipeline.submit(meeting, ["one", "two"])
    verdicts = pipeline.take(meeting, ["one", "two"])
    assert [v is not None and v.approved for v in verdicts] == [True, True]
    pipeline.close()


def test_close_ends_the_threads_without_an_error(monkeypatch):
    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    before = set(threading.enumerate())
    judge = SlowJudge()
    pipeline = JudgePipeline(workers=2)
    pipeline.submit(judge, ["road"])
    threads = [t for t in threading.enumerate()
               if t not in before and t.name == "consent-judge-pipeline"]
    # daemons: a pipeline never closed does not keep the process alive at exit
    assert len(threads) == 2 and all(thread.daemon for thread in threads)
    assert pipeline.take(judge, ["road"])[0].approved
    pipeline.close()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads) and errors == []


def test_a_pickled_pipeline_keeps_its_configuration_and_works():
    judge = SlowJudge()
    pipeline = JudgePipeline(workers=2, max_batch=3, wait_s=1.5, max_entries=7)
    pipeline.submit(judge, ["road"])
    copy = pickle.loads(pickle.dumps(pipeline))
    assert (copy.workers, copy.max_batch, copy.wait_s, copy.max_entries) == (2, 3, 1.5, 7)
    assert copy.pending == 0 and copy.used == 0
    assert repr(copy) == "JudgePipeline(workers=2, max_batch=3, wait_s=1.5, pending=0)"
    copy.submit(judge, ["harm"])
    assert not copy.take(judge, ["harm"])[0].approved
    assert pickle.loads(pickle.dumps(JudgePipeline(wait_s=None))).wait_s is None
    pipeline.close()
    copy.close()


# ------------------------------------------------------------------ settings, errors
def test_settings_take_true_a_pipeline_or_false_and_pickle_without_threads():
    rule = RuleJudge(lambda t: True, name="ok")
    assert ConsentSettings(rule).pipeline is None
    made = ConsentSettings(rule, pipeline=True)
    assert isinstance(made.pipeline, JudgePipeline) and made.owns_pipeline
    given = JudgePipeline(workers=3)
    assert ConsentSettings(rule, pipeline=given).pipeline is given
    with pytest.raises(TypeError, match="pipeline must be True, False or"):
        ConsentSettings(rule, pipeline="yes")
    made.pipeline.submit(rule, ["x"])
    copy = pickle.loads(pickle.dumps(made))
    assert copy.judge is None and copy.pipeline.workers == 1 and copy.pipeline.pending == 0
    # no judge yet (never pickled): nothing is sent ahead, until one is set
    assert submit_to_pipeline(copy, ["x"]) == 0 and copy.pipeline.submitted == 0
    copy.judge = rule
    assert submit_to_pipeline(copy, ["x"]) == 1
    copy.close()
    made.close()
    given.close()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"workers": 0}, "workers must be an int >= 1"),
    ({"max_batch": 1.5}, "max_batch must be an int >= 1"),
    ({"wait_s": -1}, "wait_s must be a number of seconds >= 0"),
    ({"wait_s": True}, "wait_s must be a number of seconds >= 0"),
    ({"wait_s": "5"}, "wait_s must be a number of seconds >= 0"),
    ({"max_entries": True}, "max_entries must be an int >= 1"),
])
def test_pipeline_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        JudgePipeline(**kwargs)


def test_pipeline_defaults():
    pipeline = JudgePipeline()
    assert (pipeline.workers, pipeline.max_batch, pipeline.wait_s, pipeline.max_entries) == (
        1, 16, 600.0, 100_000)
    assert JudgePipeline(wait_s=0).wait_s == 0.0  # allowed: take only what is ready


def test_submit_refuses_one_string_and_non_texts():
    pipeline = JudgePipeline()
    judge = SlowJudge()
    with pytest.raises(TypeError, match="not one string"):
        pipeline.submit(judge, "road")
    with pytest.raises(TypeError, match="must be str, got bytes"):
        pipeline.submit(judge, [b"road"])
    pipeline.close()


def test_beyond_max_entries_nothing_more_is_sent_ahead():
    judge = SlowJudge()
    pipeline = JudgePipeline(max_entries=2)
    assert pipeline.submit(judge, ["a", "b", "c", "d"]) == 2 and pipeline.skipped == 2
    verdicts = pipeline.take(judge, ["a", "b", "c", "d"])
    assert verdicts[0].approved and verdicts[1].approved and verdicts[2:] == [None, None]
    pipeline.close()


def test_the_verdict_cache_is_safe_under_concurrent_use(tmp_path):
    cache = VerdictCache(tmp_path / "cache.sqlite")
    verdict = Verdict(True, 0.9, "j")
    keys = [cache.key("j", "p", str(i)) for i in range(200)]

    def work(part: list[str]) -> None:
        for key in part:
            cache.put(key, verdict)
            assert cache.get(key) == verdict

    threads = [threading.Thread(target=work, args=(keys[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 200 and cache.hits == 200 and cache.misses == 0
    cache.close()


def test_settings_pickled_before_pipelines_existed_still_decide():
    rule = RuleJudge(lambda t: True, name="ok")
    state = ConsentSettings(rule).__getstate__()
    del state["pipeline"], state["owns_pipeline"]  # as an older saved model holds them
    old = ConsentSettings.__new__(ConsentSettings)
    old.__dict__.update(state)  # what pickle does: ConsentSettings has no __setstate__
    old.judge = rule
    assert old.pipeline is None and decide(old, [Piece("x", 2.0)])[0].released == 2.0
    assert submit_to_pipeline(old, ["x"]) == 0
