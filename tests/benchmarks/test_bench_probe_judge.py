"""consent_gym.benchmarks.probe_judge: the probe judge's speed figures on a tiny random Gemma 3
body (fast), and a warm load of the real default judge (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from consent_gym.benchmarks.probe_judge import (
    ProbeSpeed,
    ProbeWork,
    bench_probe_judge,
    probe_judge_load_seconds,
    probe_layer_params,
    probe_work,
)
from consent_gym.judges.probe import ProbeJudge, ProbeReadout
from tests.judges.tiny_models import HIDDEN, TinyGemmaEncoder, build_tiny_model


def tiny_probe_judge(folder: Path) -> ProbeJudge:
    """A ProbeJudge reading layer 2 of a tiny random Gemma 3 body, 3 chunks per forward (so a
    call's chunks span several padded batches)."""
    path = build_tiny_model(folder)
    rng = np.random.default_rng(0)
    readout = ProbeReadout("gemma", 2, "mean", np.zeros(HIDDEN), np.ones(HIDDEN),
                           rng.normal(size=HIDDEN), 0.0, 0.0)
    return ProbeJudge(readout, encoder=TinyGemmaEncoder(path), batch_size=3, cache=True)


@pytest.fixture(scope="module")
def tiny_probe(tmp_path_factory: pytest.TempPathFactory) -> ProbeJudge:
    return tiny_probe_judge(tmp_path_factory.mktemp("bench-probe-tiny"))


def _positions_run(judge: ProbeJudge, texts: list[str], per_call: int) -> tuple[int, int]:
    """(forwards, batch x length positions) the first layer really saw, counted by a hook."""
    seen: list[int] = []

    def hook(_module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        seen.append(hidden.shape[0] * hidden.shape[1])

    handle = judge.encoder.layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    saved, judge.cache = judge.cache, None
    try:
        for s in range(0, len(texts), per_call):
            judge.judge_batch(texts[s:s + per_call])
    finally:
        handle.remove()
        judge.cache = saved
    return len(seen), sum(seen)


TEXTS = [
    "The car drove on the road. Step 2: the car hit a box. The parcel was delivered at step 3.",
    "The car drove on the road. Step 4: the car waited at the crossing; then it went on.\nDone",
    "The car drove on the road. " + " ".join(f"w{i}" for i in range(40)) + ".",
    "Step 1: the car hit a pedestrian.",
    "The car drove on the road.",
]


@pytest.mark.parametrize("per_call", [1, 2, 5])
def test_probe_work_counts_the_positions_the_encoder_really_computes(tiny_probe, per_call):
    work = probe_work(tiny_probe, TEXTS, per_call)
    forwards, positions = _positions_run(tiny_probe, TEXTS, per_call)
    assert work.padded_tokens == positions
    assert work.episodes == 5 and work.chunks == 12  # 3 + 4 + (1 + 2 windows) + 1 + 1
    assert 0 < work.tokens <= work.padded_tokens
    # "The car drove on the road." is embedded once per call that holds it
    calls_with_it = len({i // per_call for i in (0, 1, 2, 4)})
    assert work.distinct_chunks == 12 - 4 + calls_with_it
    assert forwards == sum(-(-d // 3) for d in _distinct_per_call(tiny_probe, per_call))


@pytest.mark.parametrize("per_call", [1, 5])
def test_probe_work_counts_a_prefix_readouts_prefixes_too(tiny_probe, per_call):
    """Read after the chunk before it, each chunk costs its prefix's positions as well, and
    the same chunk after two different lines is two encoder rows."""
    prefixed = ProbeJudge(ProbeReadout(**{**tiny_probe.readout.__dict__, "window": 2,
                                          "prefix_chunks": 1}),
                          encoder=tiny_probe.encoder, batch_size=3, cache=False)
    work = probe_work(prefixed, TEXTS, per_call)
    alone = probe_work(tiny_probe, TEXTS, per_call)
    assert work.padded_tokens == _positions_run(prefixed, TEXTS, per_call)[1]
    assert work.tokens > alone.tokens and work.distinct_chunks >= alone.distinct_chunks
    assert work.chunks == alone.chunks == 12


def _distinct_per_call(judge, per_call):
    from consent_gym.judges.probe import split_chunks

    return [len({c for t in TEXTS[s:s + per_call] for c in split_chunks(t, judge.max_words)})
            for s in range(0, len(TEXTS), per_call)]


def test_probe_work_pads_each_forward_batch_to_its_longest_chunk(tiny_probe):
    work = probe_work(tiny_probe, TEXTS, 5)
    assert work.tokens < work.padded_tokens  # chunks of unequal length share a batch
    single = probe_work(tiny_probe, ["Step 1: the car hit a pedestrian."], 1)
    assert single.tokens == single.padded_tokens and single.distinct_chunks == 1
    assert probe_work(tiny_probe, [], 1) == ProbeWork(0, 0, 0, 0, 0)


def test_probe_work_and_layer_params_check_their_arguments(tiny_probe):
    with pytest.raises(ValueError, match="episodes_per_call"):
        probe_work(tiny_probe, TEXTS, 0)
    with pytest.raises(TypeError):
        probe_work(tiny_probe, "one text", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="--judge llm"):
        probe_work(object(), TEXTS, 1)
    with pytest.raises(TypeError, match="ProbeJudge"):
        probe_layer_params(object())


def test_probe_layer_params_counts_layers_up_to_the_readout_only(tiny_probe):
    layers = tiny_probe.encoder.layers
    per_layer = sum(p.numel() for p in layers[0].parameters())
    assert probe_layer_params(tiny_probe) == 2 * per_layer  # readout on layer 2 of 3
    embedding = tiny_probe.encoder.model.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in tiny_probe.encoder.model.parameters())
    assert probe_layer_params(tiny_probe) < total - embedding  # layer 3 and final norm excluded


def test_probe_speed_worked_by_hand():
    """10 episodes, 400 positions in 2 s; 1e6 params: 8e8 FLOPs -> 4e8/s of 100 GFLOP/s."""
    speed = ProbeSpeed(batch_size=4, episode_tokens=48, mean_tokens=40.0, seconds=2.0,
                       matmul_gflops=100.0, layer_params=1_000_000,
                       work=ProbeWork(episodes=10, chunks=30, distinct_chunks=25, tokens=300,
                                      padded_tokens=400))
    assert speed.episodes_per_s == 5.0 and speed.tokens_per_s == 200.0
    assert speed.encoder_tokens_per_s == 200.0
    assert speed.chunks_per_episode == 3.0 and speed.distinct_chunks_per_episode == 2.5
    assert speed.flops == 8e8
    assert speed.flop_fraction == pytest.approx(0.004)
    d = speed.to_dict()
    assert d["flops_per_episode"] == 8e7 and d["padded_tokens"] == 400 and "work" not in d


def test_bench_probe_judge_on_a_tiny_gemma(tiny_probe):
    cache_before = tiny_probe.cache
    result = bench_probe_judge(tiny_probe, batch_sizes=(1, 4), episode_tokens=(24, 48),
                               headline_tokens=48, min_episodes=2, matmul_size=64,
                               cached_repeats=3)
    assert tiny_probe.cache is cache_before and tiny_probe.batch_size == 3  # untouched
    assert [(r.batch_size, r.episode_tokens) for r in result.results] == [
        (1, 48), (4, 48), (4, 24)]
    assert result.headline is result.results[1]
    params = probe_layer_params(tiny_probe)
    assert result.layer_params == params and result.readout_layer == 2
    assert result.encoder_layers == 3 and result.chunk_batch_size == 3
    texts_count = 0
    for r in result.results:
        assert r.episodes == max(r.batch_size, 2)
        assert r.flops == 2 * params * r.work.padded_tokens
        assert r.work.chunks >= r.work.distinct_chunks >= r.episodes
        assert 0 < r.mean_tokens <= r.episode_tokens
        assert r.flop_fraction > 0
        texts_count += r.episodes
    assert result.cached_verdicts == 3 * texts_count
    assert result.cached_verdicts_per_s == pytest.approx(
        result.cached_verdicts / result.cached_seconds)
    d = result.to_dict()
    assert d["judge"] == "probe" and d["episodes_per_s"] == result.headline.episodes_per_s
    assert d["warm_load_s"] is None  # a given judge: no load to time
    json.dumps(d)


def test_bench_probe_judge_checks_its_arguments(tiny_probe):
    with pytest.raises(ValueError, match=">= 1"):
        bench_probe_judge(tiny_probe, batch_sizes=())
    with pytest.raises(ValueError, match=">= 1"):
        bench_probe_judge(tiny_probe, episode_tokens=(0,))
    with pytest.raises(TypeError, match="ProbeJudge"):
        bench_probe_judge(object(), batch_sizes=(1,), episode_tokens=(24,), headline_tokens=24)


def test_probe_judge_load_seconds_reads_the_subprocess_and_reports_its_failure(monkeypatch):
    """The real warm load runs in tests/commands/test_bench.py's slow test."""
    import subprocess

    seen = {}

    def fake_run(cmd, env, **kwargs):
        seen.update(cmd=cmd, cache=env.get("CONSENT_GYM_CACHE"))
        out = 'loading...\n{"load_s": 1.5, "with_imports_s": 4.0}\n'
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert probe_judge_load_seconds("/empty") == (1.5, 4.0)
    assert "default_judge(cache=False)" in seen["cmd"][-1] and seen["cache"] == "/empty"
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, "", "FileNotFoundError: no probe readout"))
    with pytest.raises(RuntimeError, match="no probe readout"):
        probe_judge_load_seconds()
