"""consent-gym bench: the JSON contract and the figures' consistency."""

from __future__ import annotations

import json

import pytest

from consent_gym.benchmarks.wrapper import bench_wrapper
from consent_gym.cli import main


def test_bench_wrapper_json_is_the_last_line(capsys):
    assert main(["bench", "wrapper", "--steps", "300", "--repeats", "3", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result["overhead_ratio"]) == {"CartPole-v1", "consent_gym/DeliveryCurb-v0"}
    for r in result["results"]:
        assert len(r["pair_ratios"]) == 3
        assert r["overhead_ratio"] == pytest.approx(sorted(r["pair_ratios"])[1])
        assert r["ratio_of_medians"] == pytest.approx(
            r["raw_steps_per_s"] / r["wrapped_steps_per_s"])
        assert r["episodes_judged"] > 0
    assert "overhead" in lines[0]


def test_bench_wrapper_rejects_bad_counts():
    with pytest.raises(ValueError, match="steps and repeats must be >= 1"):
        bench_wrapper("CartPole-v1", steps=0)
    with pytest.raises(SystemExit, match="must be >= 1"):
        main(["bench", "wrapper", "--repeats", "0"])


def test_bench_needs_a_subcommand():
    with pytest.raises(SystemExit):
        main(["bench"])


# ---------------------------------------------------------------- bench judge / bench train

JUDGE_KEYS = {"episodes_per_s", "tokens_per_s", "flop_fraction", "warm_load_s",
              "cached_verdicts_per_s", "matmul_gflops", "header_tokens", "results", "dtype",
              "bf16_matmul_gflops", "flop_fraction_bf16"}


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    from tests.judges.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("bench-cli-tiny"))


@pytest.fixture(scope="module")
def tiny_llm_judge(tiny_model_path):
    from consent_gym.judges import LLMJudge

    return LLMJudge(str(tiny_model_path), dtype="float32")


def test_bench_judge_cli_json(capsys, monkeypatch, tiny_llm_judge):
    import consent_gym.benchmarks.judge as judge_bench

    real, seen = judge_bench.bench_judge, {}

    def tiny_bench(**kwargs):  # the CLI's arguments, on a tiny model instead of Gemma
        seen.update(kwargs)
        return real(tiny_llm_judge, **{**kwargs, "warm_load": False}, matmul_size=64)

    monkeypatch.setattr(judge_bench, "bench_judge", tiny_bench)
    assert main(["bench", "judge", "--judge", "llm", "--batch-sizes", "1,2",
                 "--episode-tokens", "24,64", "--min-episodes", "1", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= JUDGE_KEYS and result["benchmark"] == "judge"
    assert result["judge"] == "llm"
    assert seen["batch_sizes"] == [1, 2] and seen["episode_tokens"] == [24, 64]
    assert seen["headline_tokens"] == 64 and seen["min_episodes"] == 1
    assert [(r["batch_size"], r["episode_tokens"]) for r in result["results"]] == [
        (1, 64), (2, 64), (2, 24)]
    assert result["episodes_per_s"] == result["results"][1]["episodes_per_s"]
    assert any("headline" in line for line in lines)
    assert any(line.startswith("cached:") for line in lines)
    assert seen["dtype"] == "auto" and result["dtype"] == "float32"
    assert result["bf16_matmul_gflops"] is None and result["flop_fraction_bf16"] is None


@pytest.mark.parametrize("dtype", ["auto", "float32", "bfloat16"])
def test_bench_judge_dtype_reaches_the_judge_and_the_json(capsys, monkeypatch, tiny_model_path,
                                                          dtype):
    import consent_gym.benchmarks.judge as judge_bench
    import consent_gym.judges.loading as loading
    from consent_gym.judges import LLMJudge

    monkeypatch.setattr(loading, "native_bf16", lambda device="cpu": True)  # auto -> bfloat16
    real, seen = judge_bench.bench_judge, {}

    def tiny_bench(**kwargs):  # builds the tiny judge the way bench_judge builds the default
        seen.update(kwargs)
        judge = LLMJudge(str(tiny_model_path), cache=False, dtype=kwargs["dtype"])
        return real(judge, **{**kwargs, "warm_load": False}, matmul_size=64, cached_repeats=1)

    monkeypatch.setattr(judge_bench, "bench_judge", tiny_bench)
    assert main(["bench", "judge", "--judge", "llm", "--batch-sizes", "2", "--episode-tokens",
                 "24", "--min-episodes", "1", "--dtype", dtype, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    expected = "float32" if dtype == "float32" else "bfloat16"
    assert seen["dtype"] == dtype and result["dtype"] == expected
    assert any(f"{expected} (--dtype {dtype})" in line for line in lines)
    if expected == "bfloat16":
        assert result["bf16_matmul_gflops"] > 0
        assert result["flop_fraction_bf16"] == pytest.approx(
            result["flop_fraction"] * result["matmul_gflops"] / result["bf16_matmul_gflops"])
        assert any(line.strip().startswith("bf16 judge: flop fraction") for line in lines)
    else:
        assert result["bf16_matmul_gflops"] is None and result["flop_fraction_bf16"] is None


def test_bench_judge_quick_defaults(capsys, monkeypatch, tiny_llm_judge):
    import consent_gym.benchmarks.judge as judge_bench

    seen = {}
    real = judge_bench.bench_judge

    def tiny_bench(**kwargs):
        seen.update(kwargs)
        return real(tiny_llm_judge, **{**kwargs, "warm_load": False, "min_episodes": 1},
                    matmul_size=64, cached_repeats=1)

    monkeypatch.setattr(judge_bench, "bench_judge", tiny_bench)
    assert main(["bench", "judge", "--judge", "llm", "--quick"]) == 0
    assert seen["batch_sizes"] == [1, 16] and seen["episode_tokens"] == [64]
    assert seen["min_episodes"] == 2 and seen["warm_load"] is True
    assert "{" not in capsys.readouterr().out.strip().splitlines()[-1]  # no JSON without --json


def test_bench_judge_rejects_bad_lists():
    with pytest.raises(SystemExit):
        main(["bench", "judge", "--dtype", "float16"])  # choices: auto, float32, bfloat16
    with pytest.raises(SystemExit):
        main(["bench", "judge", "--batch-sizes", "0,8"])
    with pytest.raises(SystemExit):
        main(["bench", "judge", "--episode-tokens", "a"])
    with pytest.raises(SystemExit, match="--min-episodes"):
        main(["bench", "judge", "--min-episodes", "0"])
    with pytest.raises(SystemExit):
        main(["bench", "judge", "--judge", "cascade"])  # choices: probe, llm
    with pytest.raises(SystemExit, match="--dtype apply to --judge llm only"):
        main(["bench", "judge", "--dtype", "float32"])  # the default judge is the probe
    with pytest.raises(SystemExit, match="--instructions apply to --judge llm only"):
        main(["bench", "judge", "--judge", "probe", "--instructions", "constitution.txt"])


PROBE_KEYS = {"judge", "episodes_per_s", "tokens_per_s", "encoder_tokens_per_s",
              "chunks_per_episode", "flop_fraction", "matmul_gflops", "cached_verdicts_per_s",
              "warm_load_s", "layer_params", "readout_layer", "results"}


@pytest.fixture(scope="module")
def tiny_probe_judge(tmp_path_factory):
    from tests.benchmarks.test_bench_probe_judge import tiny_probe_judge

    return tiny_probe_judge(tmp_path_factory.mktemp("bench-cli-probe"))


@pytest.mark.parametrize("flags", [[], ["--judge", "probe"]])
def test_bench_judge_times_the_default_probe_judge_by_default(capsys, monkeypatch,
                                                             tiny_probe_judge, flags):
    import consent_gym.benchmarks.judge as llm_bench
    import consent_gym.benchmarks.probe_judge as probe_bench

    real, seen = probe_bench.bench_probe_judge, {}

    def tiny_bench(**kwargs):  # the CLI's arguments, on a tiny Gemma body instead of Gemma
        seen.update(kwargs)
        return real(tiny_probe_judge, **{**kwargs, "warm_load": False}, matmul_size=64,
                    cached_repeats=1)

    monkeypatch.setattr(probe_bench, "bench_probe_judge", tiny_bench)
    monkeypatch.setattr(llm_bench, "bench_judge", lambda **kw: pytest.fail("timed the LLM"))
    assert main(["bench", "judge", *flags, "--batch-sizes", "1,2", "--episode-tokens", "24,64",
                 "--min-episodes", "1", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= PROBE_KEYS and result["benchmark"] == "judge"
    assert result["judge"] == "probe"
    assert seen["batch_sizes"] == [1, 2] and seen["episode_tokens"] == [24, 64]
    assert seen["headline_tokens"] == 64 and seen["warm_load"] is True
    assert [(r["batch_size"], r["episode_tokens"]) for r in result["results"]] == [
        (1, 64), (2, 64), (2, 24)]
    assert result["episodes_per_s"] == result["results"][1]["episodes_per_s"]
    assert any(line.startswith("headline") and "flop fraction" in line for line in lines)
    assert any(line.startswith("cached:") for line in lines)


def test_bench_train_cli_json(capsys, tiny_bench_train):
    assert main(["bench", "train", "--timesteps", "64", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["benchmark"] == "train" and result["timesteps"] == 64
    assert result["gated_over_ungated"] == pytest.approx(
        result["gated"][0]["seconds"] / result["ungated"][0]["seconds"])
    assert result["judge_calls"] == result["rollouts"] == 1
    assert result["episodes_judged_twice"] == 0
    assert {"judge_share", "cache_hit_rate", "veto_rate"} <= set(result)
    assert any(line.startswith("gated/ungated") for line in lines)
    assert main(["bench", "train", "--timesteps", "64", "--judge", "rule", "--json",
                 "--warm-from-seed", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["judge_id"].startswith("rule:keywords") and result["warm_from_seed"] == 1
    with pytest.raises(SystemExit, match="must be >= 1"):
        main(["bench", "train", "--timesteps", "0"])
    with pytest.raises(SystemExit):
        main(["bench", "train", "--judge", "oracle"])


@pytest.mark.slow
def test_bench_judge_quick_with_the_real_default_probe_judge(capsys):
    """The real default judge (Gemma 3 270M up to the readout layer): JSON keys, sane values."""
    assert main(["bench", "judge", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= PROBE_KEYS and result["judge"] == "probe"
    assert result["model"] == "gemma-3-270m-q4_k_m"
    assert 1 <= result["readout_layer"] < result["encoder_layers"] == 18
    # 18 layers of Gemma 3 270M hold ~100M params; the readout's prefix a fraction of them
    assert 1e6 < result["layer_params"] < 1.1e8
    assert 0 < result["episodes_per_s"] < 10_000 and result["chunks_per_episode"] > 1
    assert 0 < result["flop_fraction"] <= 1.5  # cannot beat the fp32 matmul rate by much
    assert result["cached_verdicts_per_s"] > 100
    assert 0 < result["warm_load_s"] < 120


@pytest.mark.slow
def test_bench_judge_quick_with_the_real_llm_judge(capsys):
    """The real prompted Gemma 3 270M judge (minutes on 2 busy cores): JSON keys and values."""
    assert main(["bench", "judge", "--judge", "llm", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= JUDGE_KEYS
    assert result["model"] == "gemma-3-270m-q4_k_m" and result["prompts"] >= 1
    assert 0 < result["episodes_per_s"] < 1_000
    assert 40 <= result["headline_episode_tokens"] <= 64
    assert result["tokens_per_s"] == pytest.approx(
        result["episodes_per_s"] * result["headline_episode_tokens"])
    # --dtype auto: bfloat16 on a CPU with AVX512-BF16 / AMX-BF16, else float32
    assert result["dtype"] in ("float32", "bfloat16")
    # a judge cannot beat the matmul rate of its own dtype by much
    own = "flop_fraction_bf16" if result["dtype"] == "bfloat16" else "flop_fraction"
    assert 0 < result[own] <= 1.5
    assert result["flop_fraction"] < result["flop_fraction_with_head"]
    # Measured 798/s with --quick's 18 texts per call under load ~10: each judge_batch
    # pays a fixed ~20 ms frozen-weights check (docs/performance.md).
    assert result["cached_verdicts_per_s"] > 100
    assert 0 < result["warm_load_s"] < 120
    assert result["matmul_gflops"] > 1
