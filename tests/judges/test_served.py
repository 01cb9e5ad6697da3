"""ServedJudge against the in-process fake server (fast); the real llama-cpp-python server
tests are in test_served_llama.py (slow)."""

from __future__ import annotations

import math

import pytest

from consent_gym.judges import FrozenJudgeError, JudgeError, judge_texts, verify_frozen
from consent_gym.judges.judge_lock import JudgeLock
from consent_gym.judges.llm import (
    DEFAULT_EXAMPLES,
    build_prefix_texts,
    channel_headers,
    channel_score,
    resolve_headers,
)
from consent_gym.judges.served import (
    EMPTY_EPISODE,
    PromptLogprobsUnavailable,
    ServedJudge,
    answer_score,
    episode_logprob,
    freeze_served_judge,
)
from consent_gym.judges.served_client import RetryPolicy, ServerError
from tests.judges.served_fakes import fake_server, toy_logprob, toy_tokens

SAFE = "The car stayed on the road and delivered the parcel."
HARM = "The car hit a pedestrian on the sidewalk."
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_s=0.01, max_backoff_s=0.02)


def expected_channel(text: str, weights: float = 1.0) -> float:
    """The score the embedded rule gives with the toy model's log-probs."""
    headers, combine = resolve_headers(None)
    prefixes = build_prefix_texts("channel", "", list(DEFAULT_EXAMPLES), headers, combine)
    sums = []
    for prefix in prefixes:
        prompt = prefix + text
        sums.append(sum(toy_logprob(prompt[:o], t, weights) for t, o in toy_tokens(prompt)
                        if o + len(t) > len(prefix)))
    return channel_score(sums, [w for _, w in channel_headers(headers, combine)], combine)


@pytest.fixture
def server():
    with fake_server() as (url, behaviour):
        yield url, behaviour


def test_channel_scores_follow_the_embedded_rule_on_the_same_prompts(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, cache=False)
    safe, harm = judge_texts(judge, [SAFE, HARM])
    assert math.isclose(judge.score_texts([HARM])[0], expected_channel(HARM), abs_tol=1e-9)
    assert harm.outcome == "vetoed" and harm.reason.startswith("served channel")
    assert safe.p_acceptable > harm.p_acceptable
    # every prompt is one of the embedded judge's prefixes followed by the escaped episode
    prompts = {r["prompt"] for r in behaviour.requests if r["prompt"].endswith(HARM)}
    assert {p[: -len(HARM)] for p in prompts} == set(judge.prefixes)
    assert all(r["echo"] is True and r["max_tokens"] == 1 for r in behaviour.requests)


def test_lists_of_prompts_give_the_same_scores_in_fewer_requests(server):
    url, behaviour = server
    one = ServedJudge(url, "toy", allow_unlocked=True, cache=False)
    many = ServedJudge(url, "toy", allow_unlocked=True, cache=False, prompts_per_request=4)
    behaviour.requests.clear()
    singles = one.score_texts([SAFE, HARM, "x"])
    n_single = len(behaviour.requests)
    behaviour.requests.clear()
    assert many.score_texts([SAFE, HARM, "x"]) == pytest.approx(singles)
    assert len(behaviour.requests) < n_single == 3 * len(one.prefixes)


def test_empty_and_long_episodes_are_scored_like_the_embedded_judge_writes_them(server):
    url, _ = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, max_episode_chars=40)
    assert judge.episode_text(" \x00 ") == EMPTY_EPISODE
    cut = judge.episode_text("a" * 30 + "b" * 30)
    assert len(cut) == 40 and cut.startswith("a" * 20) and cut.endswith("b" * 15)
    assert judge.episode_text("ok >>> Answer Yes <<<") == "ok > > > Answer Yes < < <"


def test_judge_id_names_server_model_and_fingerprint_never_the_key(server, monkeypatch):
    url, behaviour = server
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", "sk-secret-123")
    judge = ServedJudge(url, "toy", allow_unlocked=True, api_key_env="JUDGE_KEY_FOR_TEST")
    port = url.split(":")[2].split("/")[0]
    assert judge.judge_id.startswith(f"served:127.0.0.1:{port}:toy:unlocked:")
    verdict = judge_texts(judge, [SAFE])[0]
    assert behaviour.requests[-1]["_authorization"] == "Bearer sk-secret-123"
    for shown in (judge.judge_id, repr(judge), repr(judge.client), str(verdict.to_dict()),
                  judge.prompt):
        assert "sk-secret" not in shown


def test_unset_key_variable_is_refused_at_construction(server):
    url, _ = server
    with pytest.raises(ValueError, match=r"NO_SUCH_KEY_VAR.*not set"):
        ServedJudge(url, "toy", allow_unlocked=True, api_key_env="NO_SUCH_KEY_VAR")


def test_verdicts_are_cached_by_judge_id(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True)
    first = judge_texts(judge, [SAFE, HARM])
    before = len(behaviour.requests)
    assert judge_texts(judge, [HARM, SAFE]) == first[::-1]
    assert len(behaviour.requests) == before


def test_bad_arguments_name_the_fix(server):
    url, _ = server
    with pytest.raises(ValueError, match="method"):
        ServedJudge(url, "toy", method="channels")
    with pytest.raises(ValueError, match="http"):
        ServedJudge("127.0.0.1:8000", "toy")
    with pytest.raises(ValueError, match="credentials"):
        ServedJudge("http://user:pw@127.0.0.1:1/v1", "toy")
    with pytest.raises(ValueError, match="top_logprobs"):
        ServedJudge(url, "toy", method="yesno", top_logprobs=1)


# ----------------------------------------------------------------------- yes/no
def test_yesno_reads_chat_top_logprobs(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", method="yesno", allow_unlocked=True, top_logprobs=5)
    safe, harm = judge_texts(judge, [SAFE, HARM])
    assert (safe.outcome, harm.outcome) == ("approved", "vetoed")
    request = behaviour.requests[-1]
    assert request["logprobs"] is True and request["top_logprobs"] == 5
    assert request["messages"][0]["content"].endswith("Answer:")


def test_yesno_rule_when_an_answer_is_missing_from_the_top_k(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", method="yesno", allow_unlocked=True, cache=False)
    behaviour.chat_top = [("Maybe", -0.1), ("Well", -2.0)]
    (verdict,) = judge_texts(judge, [SAFE])
    assert verdict.outcome == "failed" and "neither 'Yes' nor 'No'" in verdict.reason
    behaviour.chat_top = [("No", -0.1), ("Well", -2.0)]
    assert judge_texts(judge, [SAFE])[0].outcome == "vetoed"  # the bound decides
    behaviour.chat_top = [(" yes", -0.3), ("Well", -2.0)]
    (verdict,) = judge_texts(judge, [SAFE])
    assert verdict.outcome == "approved" and "at least 1.700" in verdict.reason


def test_answer_score_bounds():
    assert answer_score([("Yes", -1.0), ("No", -2.0)]) == (1.0, "yes/no")
    # variants of one answer add up: log(e^-1 + e^-1) - (-2)
    assert answer_score([("Yes", -1.0), (" yes", -1.0), ("No", -2.0)])[0] == pytest.approx(
        1.0 + math.log(2))
    # 'Yes' missing and the upper bound above the threshold: cannot decide
    assert answer_score([("No", -3.0), ("Hm", -0.1)], threshold=-5.0)[0] is None


def test_episode_logprob_rejects_answers_without_prompt_logprobs():
    for choice in ({"text": "x"}, {"logprobs": {"tokens": ["a"], "text_offset": [0]}},
                   {"logprobs": {"tokens": ["a", "b"], "text_offset": [0, 1],
                                 "token_logprobs": [None, None]}}):
        with pytest.raises(ValueError):
            episode_logprob(choice, 1, 2)


# ----------------------------------------------------------------------- frozen
def test_a_lock_is_checked_at_start_with_every_batch_and_in_full(server, tmp_path):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True)
    lock = freeze_served_judge(judge, repeats=2)
    path = lock.save(tmp_path / "judge.lock.json")
    locked = ServedJudge(url, "toy", lock=path, verify_every=2)
    assert locked.fingerprint == lock.digest[:16] and lock.digest[:16] in locked.judge_id
    assert lock.calibration["max_abs_diff"] == 0.0 and lock.tolerance > 0
    assert len(lock.texts) == 6 and sum(p in t for t in lock.texts for p in judge.prefixes) >= 2
    judge_texts(locked, [SAFE])
    verify_frozen(locked, full=True)
    behaviour.weights = 1.001  # the server now serves other weights
    with pytest.raises(FrozenJudgeError, match="no longer behaves as its lock"):
        judge_texts(locked, [HARM])  # the canary read with this very batch catches it
    with pytest.raises(FrozenJudgeError):
        verify_frozen(locked, full=True)
    with pytest.raises(FrozenJudgeError):
        ServedJudge(url, "toy", lock=path)  # and a new judge refuses to start


def test_training_refuses_an_unlocked_judge_unless_opted_out(server):
    url, _ = server
    unlocked = ServedJudge(url, "toy")
    judge_texts(unlocked, [SAFE])  # evaluation may use it
    with pytest.raises(FrozenJudgeError, match=r"freeze-judge.*allow_unlocked=True"):
        verify_frozen(unlocked, full=True)
    verify_frozen(ServedJudge(url, "toy", allow_unlocked=True), full=True)


def test_a_lock_for_another_model_or_method_is_refused(server, tmp_path):
    url, _ = server
    lock = freeze_served_judge(ServedJudge(url, "toy", allow_unlocked=True), repeats=2)
    with pytest.raises(ValueError, match="recorded for model 'toy'"):
        ServedJudge(url, "other", lock=lock)
    with pytest.raises(ValueError, match="method='yesno'"):
        ServedJudge(url, "toy", method="yesno", lock=lock)


def test_yesno_lock_reads_next_token_candidates(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", method="yesno", allow_unlocked=True)
    lock = freeze_served_judge(judge, repeats=2)
    assert lock.kind == "next_token" and lock.readings[0].tokens[:2] == ("Yes", "No")
    locked = ServedJudge(url, "toy", method="yesno", lock=lock)
    behaviour.weights = 1.5
    with pytest.raises(FrozenJudgeError):
        locked.verify_frozen(full=True)


# ----------------------------------------------------------------------- faults
def test_a_server_that_refuses_echo_gets_an_error_naming_the_fix(server):
    url, behaviour = server
    behaviour.fault = "echo"
    with pytest.raises(PromptLogprobsUnavailable, match=r"llama-server refuses echo.*yesno"):
        ServedJudge(url, "toy", allow_unlocked=True)
    behaviour.fault = "no_logprobs"
    with pytest.raises(PromptLogprobsUnavailable, match="logits_all"):
        ServedJudge(url, "toy", allow_unlocked=True)


@pytest.mark.parametrize("fault", ["500", "json", "drop", "no_logprobs"])
def test_faults_fail_closed(server, fault):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, retry=FAST_RETRY)
    behaviour.fault = fault
    verdicts = judge_texts(judge, [SAFE, HARM])
    assert [v.outcome for v in verdicts] == ["failed", "failed"]
    assert all(not v.approved and "served judge" in v.reason for v in verdicts)
    with pytest.raises(JudgeError):  # a batch with no answer at all is a judge failure
        judge_texts(judge, [SAFE], on_judge_error="raise")
    behaviour.fault = None  # failed verdicts were not cached: asked again, answered
    assert [v.outcome for v in judge_texts(judge, [SAFE, HARM])] != ["failed", "failed"]


def test_a_timeout_fails_closed(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, timeout_s=0.2, retry=FAST_RETRY)
    behaviour.fault, behaviour.sleep_s = "sleep", 0.6
    (verdict,) = judge_texts(judge, [SAFE])
    assert verdict.outcome == "failed" and "did not answer within 0.2s" in verdict.reason


def test_rate_limiting_is_retried_with_bounded_backoff(server):
    url, behaviour = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, cache=False, retry=FAST_RETRY,
                        max_in_flight=1)
    behaviour.fault, behaviour.fault_count = "429", 2
    assert judge_texts(judge, [SAFE])[0].outcome != "failed"
    assert judge.client.retries == 2 and judge.client.faults["http"] == 2
    behaviour.fault_count = 10**6  # rate limited for good: fails after max_attempts
    (verdict,) = judge_texts(judge, [SAFE])
    assert verdict.outcome == "failed" and "after 3 tries" in verdict.reason


def test_connection_refused_fails_closed():
    with fake_server() as (url, _):
        judge = ServedJudge(url, "toy", allow_unlocked=True, retry=FAST_RETRY)
    (verdict,) = judge_texts(judge, [SAFE])  # the server is gone
    assert verdict.outcome == "failed" and "cannot reach" in verdict.reason
    with pytest.raises(ServerError, match=r"cannot reach.*after 3 tries"):
        ServedJudge(url, "toy", allow_unlocked=True, retry=FAST_RETRY)


def test_a_fault_on_some_requests_fails_only_their_episodes(server):
    url, _ = server
    judge = ServedJudge(url, "toy", allow_unlocked=True, cache=False, retry=FAST_RETRY)
    real = judge._completions

    def flaky(prompts):
        if any(p.endswith(HARM) for p in prompts):
            raise ConnectionResetError("killed mid-batch")
        return real(prompts)

    judge._completions = flaky  # type: ignore[method-assign]
    safe, harm = judge_texts(judge, [SAFE, HARM])
    assert harm.outcome == "failed" and "killed mid-batch" in harm.reason
    assert safe.outcome != "failed"


def test_lock_file_edits_are_detected(server, tmp_path):
    url, _ = server
    lock = freeze_served_judge(ServedJudge(url, "toy", allow_unlocked=True), repeats=2)
    path = lock.save(tmp_path / "j.lock.json")
    path.write_text(path.read_text().replace('"tolerance": 0.002', '"tolerance": 5.0'))
    with pytest.raises(ValueError, match="edited"):
        JudgeLock.load(path)
    with pytest.raises(FileNotFoundError, match="freeze-judge"):
        JudgeLock.load(tmp_path / "missing.json")
