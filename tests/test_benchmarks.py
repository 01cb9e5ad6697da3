"""consent_gym.benchmarks: judge speed and gated-training figures on tiny models (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_gym.benchmarks import (
    WrapperOverhead,
    bench_judge,
    bench_train,
    judge_cost,
    matmul_gflops,
    synthetic_episodes,
)
from consent_gym.judges import KeywordJudge, LLMJudge, VerdictCache
from tests.judges.tiny_models import build_tiny_model

TINY_PPO = {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "device": "cpu",
            "policy_kwargs": {"net_arch": [8]}}


def test_wrapper_overhead_is_the_median_of_paired_ratios():
    result = WrapperOverhead("X-v0", 10, 3, raw_steps_per_s=100.0, wrapped_steps_per_s=50.0,
                             episodes_judged=1, pair_ratios=(1.5, 1.1, 9.0))
    assert result.overhead_ratio == 1.5  # one disturbed pair (9.0) does not move it
    assert result.ratio_of_medians == 2.0
    assert result.to_dict()["pair_ratios"] == [1.5, 1.1, 9.0]
    without_pairs = WrapperOverhead("X-v0", 10, 1, 120.0, 100.0, 1)
    assert without_pairs.overhead_ratio == pytest.approx(1.2)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bench-tiny"))


@pytest.fixture(scope="module")
def tiny_judge(tiny_path: Path) -> LLMJudge:
    return LLMJudge(str(tiny_path), cache=True, dtype="float32")


def test_matmul_gflops_is_positive_and_checks_its_arguments():
    assert matmul_gflops(size=32, repeats=2) > 0
    assert matmul_gflops(size=32, repeats=2, dtype="bfloat16") > 0
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
    # default: the any_env mixture, two acceptable headers and one unacceptable
    assert cost.prompts == len(tiny_judge.prefix_texts()) == 3
    assert len(cost.header_tokens) == 3 and min(cost.header_tokens) > 10
    assert cost.head_params == head  # the tiny vocabulary is smaller than the shortlist
    assert cost.body_params == total - emb - head  # tiny Llama: untied head
    assert cost.body_flops(10) == 2 * cost.body_params * 10 * 3
    assert cost.head_flops(10) == 2 * head * 9 * 3  # the first token comes from the prefix


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
    for r in result.results:
        assert r.episodes == max(r.batch_size, 2)
        assert r.episodes_per_s == pytest.approx(r.episodes / r.seconds)
        assert r.tokens_per_s == pytest.approx(r.episodes_per_s * r.mean_tokens)
        assert 0 < r.flop_fraction < r.flop_fraction_with_head
    assert result.cached_verdicts == 3 * sum(r.episodes for r in result.results)
    assert result.cached_verdicts_per_s > 0
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
        assert r.flop_fraction == pytest.approx(
            r.episodes_per_s * r.body_flops_per_episode / (r.matmul_gflops * 1e9))
        assert r.flop_fraction_bf16 == pytest.approx(
            r.flop_fraction * r.matmul_gflops / r.bf16_matmul_gflops)
        assert r.flop_fraction_bf16_with_head == pytest.approx(
            r.flop_fraction_with_head * r.matmul_gflops / r.bf16_matmul_gflops)
    d = result.to_dict()
    assert d["dtype"] == "bfloat16" and d["bf16_matmul_gflops"] > 0
    assert d["flop_fraction_bf16"] == result.headline.flop_fraction_bf16
    assert d["results"][0]["flop_fraction_bf16"] == result.results[0].flop_fraction_bf16


def test_bench_judge_loads_the_default_judge_in_the_requested_dtype(tiny_path, monkeypatch):
    import consent_gym.benchmarks as benchmarks
    import consent_gym.judges as judges

    loads: list[str] = []
    built: dict[str, object] = {}

    def fake_load(cache_dir=None, dtype="auto"):
        loads.append(dtype)
        return 1.0, 2.0

    def fake_default_judge(**kwargs):
        built.update(kwargs)
        return LLMJudge(str(tiny_path), cache=False, dtype=kwargs["dtype"])

    monkeypatch.setattr(benchmarks, "default_judge_load_seconds", fake_load)
    monkeypatch.setattr(judges, "default_judge", fake_default_judge)
    result = bench_judge(None, batch_sizes=(1,), episode_tokens=(24,), headline_tokens=24,
                         min_episodes=1, matmul_size=32, cached_repeats=1, dtype="bfloat16")
    assert loads == ["bfloat16", "bfloat16"]  # warm-up load, then the timed warm load
    assert built["dtype"] == "bfloat16" and result.dtype == "bfloat16"
    assert result.warm_load_s == 1.0 and result.warm_load_with_imports_s == 2.0


def test_bench_train_rule_judge_checks_batching_and_duplicates():
    judge = KeywordJudge(["hit a pedestrian"])
    result = bench_train(judge, timesteps=2 * 32 * 2, n_envs=2, ppo_kwargs=TINY_PPO)
    assert result.rollouts == result.judge_calls == 2  # one judge call per rollout
    assert result.episodes_judged_twice == 0
    assert result.texts_judged == result.finished_pieces + result.fragment_pieces
    assert result.distinct_texts <= result.texts_judged
    assert result.cache_hit_rate is None  # a rule judge has no cache
    (ungated,), (gated,) = result.ungated, result.gated
    assert gated.judge_seconds <= gated.seconds and 0 < gated.update_seconds < gated.seconds
    assert gated.rollout_seconds > 0 and ungated.judge_seconds == 0
    d = result.to_dict()
    assert d["gated_over_ungated"] == pytest.approx(gated.seconds / ungated.seconds)
    assert 0 <= d["judge_share"] < 1


def test_bench_train_reads_the_llm_cache_hit_rate(tiny_judge):
    result = bench_train(tiny_judge, timesteps=2 * 32 * 2, n_envs=2, ppo_kwargs=TINY_PPO)
    assert isinstance(tiny_judge.cache, VerdictCache)  # a fresh cache per gated run
    assert result.cache_hit_rate is not None and 0 <= result.cache_hit_rate <= 1
    # Hits are exactly the texts judged in an earlier call (a duplicate inside one call
    # misses twice: both copies are looked up before either is scored).
    hits = result.cache_hit_rate * result.texts_judged
    assert hits == pytest.approx(result.repeated_across_calls)
    with pytest.raises(ValueError, match=">= 1"):
        bench_train(tiny_judge, timesteps=0)


def test_bench_train_gives_a_cascades_llm_a_fresh_cache_and_reads_its_hit_rate(tiny_judge):
    from consent_gym.judges import CascadeJudge, Verdict

    tiny_judge.cache.put("stale-key", Verdict(True, 1.0, tiny_judge.judge_id))
    stale = tiny_judge.cache
    cascade = CascadeJudge(KeywordJudge(["hit a pedestrian"]), tiny_judge, veto_below=0.5)
    result = bench_train(cascade, timesteps=2 * 32 * 2, n_envs=2, ppo_kwargs=TINY_PPO)
    assert tiny_judge.cache is not stale and isinstance(tiny_judge.cache, VerdictCache)
    assert result.cache_hit_rate is not None and 0 <= result.cache_hit_rate <= 1
    assert cascade.decided_by_first + cascade.decided_by_second == result.texts_judged


def test_bench_train_warm_cache_from_an_earlier_seed(tiny_judge):
    cold = bench_train(tiny_judge, timesteps=2 * 32 * 2, n_envs=2, ppo_kwargs=TINY_PPO)
    warm = bench_train(tiny_judge, timesteps=2 * 32 * 2, n_envs=2, ppo_kwargs=TINY_PPO,
                       warm_from_seed=0)
    assert cold.warm_from_seed is None and warm.to_dict()["warm_from_seed"] == 0
    # The same seed warmed the cache: the timed run finds every text already judged.
    assert warm.cache_hit_rate == 1.0 and cold.cache_hit_rate is not None
    assert warm.cache_hit_rate > cold.cache_hit_rate
