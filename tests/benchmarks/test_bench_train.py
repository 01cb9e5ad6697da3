"""consent_gym.benchmarks.train: gated-training figures on tiny models (fast)."""

from __future__ import annotations

import pytest

from consent_gym.benchmarks.train import bench_train
from consent_gym.judges import KeywordJudge, LLMJudge, RuleJudge, VerdictCache
from tests.judges.tiny_models import build_tiny_model

TINY_PPO = {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "device": "cpu",
            "policy_kwargs": {"net_arch": [8]}}


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> LLMJudge:
    return LLMJudge(str(build_tiny_model(tmp_path_factory.mktemp("bench-tiny"))), cache=True,
                    dtype="float32")


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
    assert d["mean_return_ungated"] == ungated.mean_return


def test_bench_train_evaluates_each_arm_and_seeds_repeats_apart():
    veto_all = RuleJudge(lambda text: False, name="veto-all")
    ppo = {**TINY_PPO, "learning_rate": 3e-3, "n_epochs": 4}
    vetoed = bench_train(veto_all, timesteps=4 * 32 * 2, env_id="CartPole-v1", n_envs=2,
                         repeats=2, seed=5, ppo_kwargs=ppo, eval_episodes=3)
    assert [a.seed for a in vetoed.ungated] == [a.seed for a in vetoed.gated] == [5, 6]
    # CartPole pays at least 8 per episode: every return is a real evaluation.
    assert all(a.mean_return >= 8 for a in (*vetoed.ungated, *vetoed.gated))
    assert vetoed.veto_rate == 1.0
    ungated, gated = vetoed.mean_returns
    assert vetoed.return_ratio == pytest.approx(gated / ungated)
    with pytest.raises(ValueError, match="eval_episodes"):
        bench_train(veto_all, timesteps=64, eval_episodes=0)


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
