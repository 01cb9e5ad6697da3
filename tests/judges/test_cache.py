"""VerdictCache: keys, in-memory front, sqlite persistence, speed."""

from __future__ import annotations

import math
import time

import pytest

from consent_gym.judges import Verdict, VerdictCache, failed_verdict


def _v(p: float = 0.8) -> Verdict:
    return Verdict(approved=p > 0.5, p_acceptable=p, judge_id="llm:abc:def", reason="r")


def test_key_depends_on_judge_prompt_and_text():
    k = VerdictCache.key("j", "p", "t")
    assert len(k) == 64
    assert len({k, VerdictCache.key("j2", "p", "t"), VerdictCache.key("j", "p2", "t"),
                VerdictCache.key("j", "p", "t2"), VerdictCache.key("j", "pt", "")}) == 5


def test_sqlite_round_trip(tmp_path):
    path = tmp_path / "sub" / "v.sqlite"
    cache = VerdictCache(path)
    cache.put_many([("a", _v(0.9)), ("b", _v(0.1))])
    cache.close()
    again = VerdictCache(path)
    assert again.get("a") == _v(0.9)
    assert again.get("b") == _v(0.1)
    assert again.get("c") is None
    assert len(again) == 2 and again.hits == 2 and again.misses == 1


def test_failed_verdicts_are_not_cached():
    cache = VerdictCache()
    cache.put("k", failed_verdict("j", "boom"))
    assert cache.get("k") is None


def test_memory_front_is_bounded():
    cache = VerdictCache(max_memory_items=2)
    for i in range(5):
        cache.put(str(i), _v())
    assert len(cache._memory) <= 2
    with pytest.raises(ValueError):
        VerdictCache(max_memory_items=0)


def test_cached_lookups_are_fast(tmp_path):
    cache = VerdictCache(tmp_path / "v.sqlite")
    keys = [VerdictCache.key("j", "prompt", f"episode {i}") for i in range(2000)]
    cache.put_many([(k, _v()) for k in keys])
    started = time.perf_counter()
    n = 0
    for _ in range(5):
        for text_i in range(2000):
            key = VerdictCache.key("j", "prompt", f"episode {text_i}")
            assert cache.get(key) is not None
            n += 1
    rate = n / (time.perf_counter() - started)
    # target is >= 10,000/s; allow for a loaded 2-core machine
    assert rate > 5_000, rate
    assert not math.isnan(rate)


def test_home_in_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = VerdictCache("~/verdicts/v.sqlite")
    cache.put("k", _v())
    assert (tmp_path / "verdicts" / "v.sqlite").exists()


def test_judge_with_cache_checks_only_on_a_miss_and_never_caches_failures():
    from consent_gym.judges.cache import judge_with_cache, verdict_from_score

    checks: list[str] = []
    decided: list[list[str]] = []

    def decide(texts):
        decided.append(list(texts))
        return [verdict_from_score("j", float("nan") if t == "bad" else 1.0, 0.0) for t in texts]

    cache = VerdictCache()
    out = judge_with_cache(["ok", "bad", "ok"], cache, "j", "p", decide, lambda: checks.append("x"))
    assert [v.outcome for v in out] == ["approved", "failed", "approved"]
    assert decided == [["ok", "bad"]] and checks == ["x"] and len(cache) == 1
    again = judge_with_cache(["ok", "bad"], cache, "j", "p", decide, lambda: checks.append("x"))
    assert decided[-1] == ["bad"] and len(checks) == 2  # the failure is asked again
    assert again[1] == failed_verdict("j", "non-finite score nan")
    assert judge_with_cache(["ok"], cache, "j", "p", decide, lambda: checks.append("x"))[0].approved
    assert len(checks) == 2  # all cached: no check
    assert judge_with_cache(["ok"], None, "j", "p", decide, lambda: None)[0].approved
