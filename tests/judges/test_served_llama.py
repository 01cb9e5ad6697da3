"""ServedJudge against real llama-cpp-python servers on 127.0.0.1 serving the embedded
judge's GGUF (slow: each server loads the model; the tests share one per module)."""

from __future__ import annotations

import threading
import time

import pytest

from consent_gym import read_audit_log
from consent_gym.gate import ConsentSettings, Piece, decide, submit_to_pipeline
from consent_gym.judges import FrozenJudgeError, judge_texts
from consent_gym.judges.judge_lock import CanaryReading, JudgeLock
from consent_gym.judges.served import ServedJudge, freeze_served_judge
from consent_gym.judges.served_client import RetryPolicy
from tests.judges.llama_servers import (
    MODEL,
    free_port,
    llama_server,
    packaged_gguf,
    stop,
    tampered_gguf,
)

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (dev extra)")
pytestmark = pytest.mark.slow

SAFE = "The car followed the road to the customer and delivered the parcel."
HARM = "The car drove over the curb onto the sidewalk and hit a pedestrian."
FAST_RETRY = RetryPolicy(max_attempts=2, backoff_s=0.05, max_backoff_s=0.1)
#: A short judge (one header pair, no examples): few tokens per request.
SHORT = {"headers": "traffic", "examples": []}


@pytest.fixture(scope="module")
def server():
    with llama_server(packaged_gguf()) as (url, process):
        yield url, process


@pytest.fixture(scope="module")
def lock(server):
    url, _ = server
    judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, **SHORT)
    return freeze_served_judge(judge, repeats=2)


def test_channel_verdicts_and_a_lock_on_a_real_server(server, lock, tmp_path):
    url, _ = server
    judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, **SHORT)
    safe, harm = judge_texts(judge, [SAFE, HARM])
    assert safe.p_acceptable > harm.p_acceptable and harm.outcome == "vetoed"
    # llama.cpp on the CPU: the same log-probs one at a time and with all canaries in flight
    assert lock.calibration["max_abs_diff"] < 1e-4
    locked = ServedJudge(url, MODEL, lock=lock.save(tmp_path / "judge.lock.json"), **SHORT)
    assert [v.outcome for v in judge_texts(locked, [SAFE, HARM])] == [
        safe.outcome, harm.outcome]


def test_real_faults_fail_closed(server):
    url, _ = server
    # a request that cannot finish in time
    slow = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, timeout_s=30.0, **SHORT)
    slow.client.timeout_s = 0.001
    assert [v.outcome for v in judge_texts(slow, [SAFE])] == ["failed"]
    # an episode longer than the server's context: the server answers with an error
    judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, retry=FAST_RETRY,
                        max_episode_chars=100_000, **SHORT)
    long, short = judge_texts(judge, ["The car drove on. " * 400, SAFE])
    assert long.outcome == "failed" and "HTTP" in long.reason
    assert short.outcome != "failed"


def test_lock_readings_are_the_servers_prompt_logprobs(server):
    url, _ = server
    judge = ServedJudge(url, MODEL, allow_unlocked=True, **SHORT)
    (reading,) = judge.read_canaries(["The quick brown fox jumps over the lazy dog."])
    assert isinstance(reading, CanaryReading) and 8 <= len(reading.tokens) <= 12
    assert all(v <= 0.0 for v in reading.logprobs)
    assert "".join(reading.tokens) == " quick brown fox jumps over the lazy dog."[
        -len("".join(reading.tokens)):]
    assert JudgeLock(model=MODEL, kind="prompt", readings=(reading,), tolerance=0.01).digest


def test_pipelined_judging_overlaps_and_keeps_the_verdicts(server, tmp_path):
    """Episodes sent ahead are judged by the server while the loop "steps" (a sleep as
    long as judging them takes): the decision then waits for little, with the same
    verdicts, each logged."""
    url, _ = server
    judge = ServedJudge(url, MODEL, allow_unlocked=True, cache=False, **SHORT)
    texts = [SAFE, "The car waited at a red light, then drove on to the customer.", HARM]
    start = time.perf_counter()
    plain = judge_texts(judge, texts)
    judging_s = time.perf_counter() - start
    settings = ConsentSettings(judge, audit_log=tmp_path / "audit.jsonl", pipeline=True)
    start = time.perf_counter()
    assert submit_to_pipeline(settings, texts) == 3
    time.sleep(judging_s)  # the envs step meanwhile
    decisions = decide(settings, [Piece(t, 1.0) for t in texts])
    pipelined_s = time.perf_counter() - start
    settings.close()
    assert [d.verdict.outcome for d in decisions] == [v.outcome for v in plain]
    # Not bit-identical here: llama-cpp-python reuses the KV cache of the prompt prefix it
    # shares with the previous request, and evaluates the rest in a batch whose size picks
    # the CPU kernel, so a score moves with the request before it (0.09 nats measured;
    # docs/served-judge.md). The fast tests prove the pipeline itself changes nothing.
    assert all(abs(d.verdict.p_acceptable - v.p_acceptable) < 0.05
               for d, v in zip(decisions, plain, strict=True))
    assert [line["prefetched"] for line in read_audit_log(tmp_path / "audit.jsonl")] == [
        True] * 3
    # without the pipeline: stepping, then judging (2 x judging_s); with it: overlapped
    assert pipelined_s < 1.6 * judging_s, (judging_s, pipelined_s)


def test_killed_mid_batch_then_restarted_with_one_tensor_changed(lock, tmp_path):
    """Its own server on its own port: killed while a batch is in flight, then a server with
    one tensor of the GGUF changed on the same port."""
    port = free_port()
    tampered = tampered_gguf(tmp_path / "tampered.gguf")
    with llama_server(packaged_gguf(), port) as (url, process):
        locked = ServedJudge(url, MODEL, lock=lock, cache=False, retry=FAST_RETRY,
                             max_in_flight=2, **SHORT)
        texts = [f"{SAFE} Trip {i}." for i in range(6)]
        result: dict[str, object] = {}
        worker = threading.Thread(target=lambda: result.update(
            verdicts=judge_texts(locked, texts)))
        worker.start()
        time.sleep(1.0)
        stop(process)  # SIGKILL while the batch is in flight
        worker.join(120)
        verdicts = result["verdicts"]
        assert isinstance(verdicts, list) and len(verdicts) == len(texts)
        assert any(v.outcome == "failed" for v in verdicts)
        assert all(v.failed or not v.reason.startswith("served judge") for v in verdicts)
    with llama_server(tampered, port) as (same_url, _):
        assert same_url == url
        with pytest.raises(FrozenJudgeError):  # the canary read with the batch catches it
            judge_texts(locked, [HARM])
        with pytest.raises(FrozenJudgeError, match="no longer behaves as its lock"):
            ServedJudge(same_url, MODEL, lock=lock, **SHORT)  # nor does a new judge start
