"""consent_gym.benchmarks.judge: judge speed figures on tiny models (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_gym.benchmarks.judge import (
    JudgeSpeed,
    bench_judge,
    judge_cost,
    matmul_gflops,
    synthetic_episodes,
)
from consent_gym.judges import LLMJudge
from tests.judges.tiny_models import build_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bench-tiny"))


@pytest.fixture(scope="module")
def tiny_judge(tiny_path: Path) -> LLMJudge:
    return LLMJudge(str(tiny_path), cache=True, dtype="float32")


def test_judge_speed_fractions_worked_by_hand():
    """10 episodes in 2 s = 5/s; body 1e9 + head 5e8 FLOPs each; fp32 100, bf16 400 GFLOP/s."""
    speed = JudgeSpeed(batch_size=4, episode_tokens=48, mean_tokens=40.0, episodes=10,
                       seconds=2.0, matmul_gflops=100.0, body_flops_per_episode=1e9,
                       head_flops_per_episode=5e8, bf16_matmul_gflops=400.0)
    assert speed.episodes_per_s == 5.0 and speed.tokens_per_s == 200.0
    assert speed.flop_fraction == pytest.approx(0.05)  # 5e9 / 1e11
    assert speed.flop_fraction_with_head == pytest.approx(0.075)  # 7.5e9 / 1e11
    assert speed.flop_fraction_bf16 == pytest.approx(0.0125)  # 5e9 / 4e11
    assert speed.flop_fraction_bf16_with_head == pytest.approx(0.01875)  # 7.5e9 / 4e11
    fp32_only = JudgeSpeed(4, 48, 40.0, 10, 2.0, 100.0, 1e9, 5e8)
    assert fp32_only.flop_fraction_bf16 is None and fp32_only.flop_fraction_bf16_with_head is None


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_gflops_is_the_median_rate_over_a_given_clock(dtype, monkeypatch):
    """With a fake clock the rate is exact: 2 * 32**3 = 65536 FLOPs in 1, 4 and 2 ms."""
    import time

    ticks = iter([0.0, 1e-3, 1.0, 1.004, 2.0, 2.002])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    rate = matmul_gflops(size=32, repeats=3, dtype=dtype)
    monkeypatch.undo()
    assert rate == pytest.approx(65536 / 2e-3 / 1e9)  # the median duration, 2 ms


def test_matmul_gflops_checks_its_arguments():
    with pytest.raises(ValueError, match=">= 1"):
        matmul_gflops(size=0)
    with pytest.raises(ValueError, match="bfloat16"):
        matmul_gflops(size=32, dtype="int8")


def test_synthetic_episodes_are_distinct_delivery_texts_within_the_budget(tiny_judge):
    count = lambda text: len(tiny_judge._episode_ids(text))  # noqa: E731
    texts = synthetic_episodes(12, 48, count, seed=3)
    assert len(set(texts)) == 12
    assert all(count(t) <= 48 for t in texts)
    assert all(t.startswith("The car drove on the road.") for t in texts)
    assert synthetic_episodes(12, 48, count, seed=3) == texts  # seeded
    # Longer budgets give longer texts (about the requested length).
    longer = synthetic_episodes(4, 160, count, seed=3)
    assert min(map(count, longer)) > max(map(count, texts))
    with pytest.raises(ValueError):
        synthetic_episodes(1, 0, count)


def test_judge_cost_counts_prompts_header_and_parameters(tiny_judge):
    cost = judge_cost(tiny_judge)
    model = tiny_judge.model
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings().weight.numel()
    # default: the ensemble, three (safe, harm) header pairs, exact normaliser
    assert cost.prompts == len(tiny_judge.prefix_texts()) == 6
    assert len(cost.header_tokens) == 6 and min(cost.header_tokens) > 10
    assert cost.head_params == head  # the whole output matrix
    assert cost.body_params == total - emb - head  # tiny Llama: untied head
    assert cost.body_flops(10) == 2 * cost.body_params * 10 * 6
    assert cost.head_flops(10) == 2 * head * 9 * 6  # the first token comes from the prefix


def test_judge_cost_counts_only_the_normaliser_shortlist(tiny_path):
    judge = LLMJudge(str(tiny_path), cache=False, dtype="float32", normalizer_tokens=40)
    hidden = judge.model.get_output_embeddings().weight.shape[1]
    assert judge_cost(judge).head_params == judge.normalizer_rows * hidden
    assert 40 <= judge.normalizer_rows < judge.model.get_output_embeddings().weight.shape[0]


def test_bench_judge_on_a_tiny_model(tiny_judge):
    cache_before = tiny_judge.cache
    result = bench_judge(tiny_judge, batch_sizes=(1, 4), episode_tokens=(24, 48),
                         headline_tokens=48, min_episodes=2, matmul_size=64, cached_repeats=3)
    assert tiny_judge.cache is cache_before and tiny_judge.batch_size == 16  # restored
    configs = [(r.batch_size, r.episode_tokens) for r in result.results]
    assert configs == [(1, 48), (4, 48), (4, 24)]  # batch sizes at 48, then lengths at 4
    assert result.headline.batch_size == 4 and result.headline.episode_tokens == 48
    model = tiny_judge.model
    body = sum(p.numel() for p in model.parameters()) - (
        model.get_input_embeddings().weight.numel() + model.get_output_embeddings().weight.numel()
    )
    head = model.get_output_embeddings().weight.numel()
    prompts = len(tiny_judge.prefix_texts())
    for r in result.results:
        assert r.episodes == max(r.batch_size, 2)
        assert r.episodes_per_s == pytest.approx(r.episodes / r.seconds)
        assert r.tokens_per_s == pytest.approx(r.episodes_per_s * r.mean_tokens)
        # the FLOPs fed to the fractions, from the parameter counts (fractions: by hand above)
        assert r.body_flops_per_episode == pytest.approx(2 * body * r.mean_tokens * prompts)
        assert r.head_flops_per_episode == pytest.approx(2 * head * (r.mean_tokens - 1) * prompts)
        assert 0 < r.flop_fraction < r.flop_fraction_with_head
    assert result.cached_verdicts == 3 * sum(r.episodes for r in result.results)
    assert result.cached_verdicts_per_s == pytest.approx(
        result.cached_verdicts / result.cached_seconds)
    d = result.to_dict()
    for key in ("episodes_per_s", "tokens_per_s", "flop_fraction", "warm_load_s",
                "cached_verdicts_per_s", "header_tokens", "results"):
        assert key in d
    assert d["warm_load_s"] is None  # a given judge: no load to time
    # a float32 judge: fractions of the fp32 matmul rate only
    assert d["dtype"] == result.dtype == "float32"
    assert d["bf16_matmul_gflops"] is None and d["flop_fraction_bf16"] is None
    assert all(r.bf16_matmul_gflops is None for r in result.results)
    with pytest.raises(ValueError, match=">= 1"):
        bench_judge(tiny_judge, batch_sizes=())


def test_bench_judge_in_bfloat16_reports_both_matmul_rates(tiny_path):
    judge = LLMJudge(str(tiny_path), cache=False, dtype="bfloat16")
    result = bench_judge(judge, batch_sizes=(2,), episode_tokens=(24,), headline_tokens=24,
                         min_episodes=2, matmul_size=64, cached_repeats=1)
    assert result.dtype == "bfloat16"
    for r in result.results:
        assert r.bf16_matmul_gflops is not None and r.bf16_matmul_gflops > 0
        # flop_fraction stays defined against the fp32 rate; the bf16 one is extra
        assert r.flop_fraction_bf16 == pytest.approx(
            r.flop_fraction * r.matmul_gflops / r.bf16_matmul_gflops)
        assert r.flop_fraction_bf16_with_head == pytest.approx(
            r.flop_fraction_with_head * r.matmul_gflops / r.bf16_matmul_gflops)
    d = result.to_dict()
    assert d["dtype"] == "bfloat16"
    assert d["bf16_matmul_gflops"] == result.headline.bf16_matmul_gflops
    assert d["flop_fraction_bf16"] == result.headline.flop_fraction_bf16
    assert d["results"][0]["flop_fraction_bf16"] == result.results[0].flop_fraction_bf16


def test_bench_judge_loads_the_llm_judge_in_the_requested_dtype(tiny_path, monkeypatch):
    import consent_gym.benchmarks.judge as judge_bench
    import consent_gym.judges as judges

    loads: list[str] = []
    built: dict[str, object] = {}

    def fake_load(cache_dir=None, dtype="auto"):
        loads.append(dtype)
        return 1.0, 2.0

    def fake_llm_judge(**kwargs):
        built.update(kwargs)
        return real_llm_judge(str(tiny_path), cache=False, dtype=kwargs["dtype"])

    real_llm_judge = LLMJudge
    monkeypatch.setattr(judge_bench, "llm_judge_load_seconds", fake_load)
    monkeypatch.setattr(judges, "LLMJudge", fake_llm_judge)
    result = bench_judge(None, batch_sizes=(1,), episode_tokens=(24,), headline_tokens=24,
                         min_episodes=1, matmul_size=32, cached_repeats=1, dtype="bfloat16")
    assert loads == ["bfloat16", "bfloat16"]  # warm-up load, then the timed warm load
    assert built["dtype"] == "bfloat16" and result.dtype == "bfloat16"
    assert result.warm_load_s == 1.0 and result.warm_load_with_imports_s == 2.0


def test_load_seconds_in_subprocess_reads_the_last_line_and_names_a_failure(tmp_path):
    from consent_gym.benchmarks.judge import load_seconds_in_subprocess

    script = ("import json, os, sys; print('noise'); "
              "print(json.dumps({'load_s': float(sys.argv[1]), "
              "'with_imports_s': float(len(os.environ['CONSENT_GYM_CACHE']))}))")
    assert load_seconds_in_subprocess(script, ["1.5"], cache_dir="abcd") == (1.5, 4.0)
    with pytest.raises(RuntimeError, match=r"(?s)loading the test judge failed:.*boom"):
        load_seconds_in_subprocess("raise SystemExit('boom')", what="the test judge")


def test_time_loads_runs_only_what_is_asked_and_converts_before_the_warm_load():
    from consent_gym.benchmarks.judge import time_loads

    calls = []

    def load(cache_dir):
        calls.append(cache_dir)
        return (1.5, 2.5) if cache_dir is None else (9.0, 9.5)

    assert time_loads(load, warm=False, cold=False) == (None, None, None) and calls == []
    logged = []
    assert time_loads(load, warm=True, cold=True, log=logged.append) == (1.5, 2.5, 9.0)
    assert calls[0] is not None and calls[1:] == [None, None]  # cold, convert, warm
    assert logged == ["warm load 1.5 s (2.5 s with imports)"]


class _Scorer:
    """A scoring judge's inner part: minus the number of "x" in a text."""

    judge_id = "count:x"

    def score_texts(self, texts):
        return [-float(t.count("x")) for t in texts]

    def judge_batch(self, texts):
        raise AssertionError("not called")


def test_time_cached_verdicts_restores_the_cache_and_refuses_a_miss():
    from consent_gym.benchmarks.judge import time_cached_verdicts
    from consent_gym.judges import BaselineCalibratedJudge, VerdictCache

    judge = BaselineCalibratedJudge(_Scorer(), lambda text: "", threshold=-0.5)
    own = judge.cache
    texts = ["a", "bx"]
    verdicts = judge.judge_batch(texts)
    assert time_cached_verdicts(judge, texts, verdicts, repeats=3) >= 0.0
    assert judge.cache is own

    class Drifting:  # looks verdicts up under another judge id than they were stored under
        judge_id, prompt, cache = "d", "p", own

        def judge_batch(self, texts):
            return [self.cache.get(VerdictCache.key("other", self.prompt, t)) for t in texts]

    drifting = Drifting()
    with pytest.raises(RuntimeError, match="2 cached lookups missed"):
        time_cached_verdicts(drifting, texts, verdicts, repeats=1)
    assert drifting.cache is own
