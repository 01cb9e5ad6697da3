"""TimeLimitedJudge: a hanging judge fails closed within its time limit."""

from __future__ import annotations

import threading
import time

import pytest

from consent_gym import ConsentWrapper
from consent_gym.judges import JudgeError, RuleJudge, judge_texts
from consent_gym.judges.timeout import TimeLimitedJudge
from tests.fakes import CountingEnv, RaisingJudge


def test_hanging_judge_becomes_a_failed_veto_quickly():
    release = threading.Event()
    hanging = RuleJudge(lambda text: release.wait(30) or True, name="hang")
    start = time.perf_counter()
    verdicts = judge_texts(TimeLimitedJudge(hanging, timeout_s=0.1), ["a", "b"])
    elapsed = time.perf_counter() - start
    release.set()
    assert elapsed < 5
    assert [v.outcome for v in verdicts] == ["failed", "failed"]
    assert "took longer than 0.1s" in verdicts[0].reason


def test_fast_judge_passes_through_and_errors_propagate():
    ok = TimeLimitedJudge(RuleJudge(lambda t: "x" not in t, name="nox"), timeout_s=5)
    assert [v.approved for v in ok.judge_batch(["a", "x"])] == [True, False]
    assert ok.judge_id == "rule:nox" and ok.name == "nox"
    with pytest.raises(JudgeError, match="out of memory"):
        judge_texts(TimeLimitedJudge(RaisingJudge(), 5), ["a"], on_judge_error="raise")


def test_wrapper_with_hanging_judge_withholds_reward():
    release = threading.Event()
    judge = TimeLimitedJudge(RuleJudge(lambda t: release.wait(30) or True, name="h"), 0.05)
    env = ConsentWrapper(CountingEnv(length=2), judge=judge, reward_timing="deferred")
    env.reset(seed=0)
    env.step(0)
    _, reward, *_, info = env.step(0)
    release.set()
    assert reward == 0.0 and info["consent"]["outcome"] == "failed"


@pytest.mark.parametrize("timeout_s", [0, -1, "5", float("nan")])
def test_bad_timeout(timeout_s):
    with pytest.raises(ValueError, match="timeout_s must be a positive number"):
        TimeLimitedJudge(RuleJudge(bool), timeout_s)


def test_non_judge_is_rejected():
    with pytest.raises(TypeError, match="judge_batch"):
        TimeLimitedJudge(lambda texts: texts, 1.0)  # type: ignore[arg-type]


def test_the_judge_runs_in_a_named_daemon_thread():
    """A daemon thread, so a judge that never returns cannot keep the process alive at exit;
    named after the judge, so a stack dump shows which judge hangs."""
    seen: list[threading.Thread] = []
    spy = RuleJudge(lambda text: seen.append(threading.current_thread()) or True, name="spy")
    TimeLimitedJudge(spy, timeout_s=5).judge_batch(["a"])
    (thread,) = seen
    assert thread is not threading.main_thread()
    assert thread.daemon is True and thread.name == "judge-rule:spy"


def test_a_half_built_wrapper_has_no_judge_rather_than_recursing():
    """Before __init__ (copy, unpickling) ``judge`` is missing: an AttributeError naming it,
    not an endless __getattr__ recursion."""
    bare = TimeLimitedJudge.__new__(TimeLimitedJudge)
    with pytest.raises(AttributeError, match=r"^judge$"):
        _ = bare.judge
    with pytest.raises(AttributeError, match=r"^judge$"):
        _ = bare.verify_frozen
