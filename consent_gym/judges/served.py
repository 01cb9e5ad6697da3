"""A judge served by an inference engine: any model behind an OpenAI-compatible API.

:class:`ServedJudge` asks a server (vLLM, SGLang, llama-cpp-python, llama.cpp's
llama-server, ...) instead of a model in this process. It builds its prompts with the same
functions as the embedded :class:`~consent_gym.judges.LLMJudge`
(:func:`~consent_gym.judges.llm.build_prefix_texts`,
:func:`~consent_gym.judges.llm.channel_score`), shares its verdict cache and failure policy
(:class:`~consent_gym.judges.scoring.ScoringJudge`; callers go through ``judge_texts`` and
``gate.decide``), and is frozen by a behavioural fingerprint
(:class:`~consent_gym.judges.judge_lock.JudgeLock`), since no server exposes its weights.

Two elicitations (``method``):

- ``"channel"``: the noisy-channel likelihood score of the embedded judge, from the
  log-probs of the episode's own tokens after each header. It needs prompt log-probs:
  ``/v1/completions`` with ``echo: true, logprobs: 1, max_tokens: 1`` (vLLM; llama-cpp-python's
  server with ``--logits_all true``). llama.cpp's own llama-server refuses ``echo``: the
  judge then raises :class:`PromptLogprobsUnavailable`, which names the servers that work
  and the ``"yesno"`` method.
- ``"yesno"``: for instruct models, the next-token top log-probs of a chat completion
  (``logprobs: true, top_logprobs: k``) after the yes/no question; score
  ``log P(Yes) - log P(No)`` (every candidate that is "yes" or "no" once stripped and
  lower-cased counts). When an answer is not among the top ``k``, its log-prob is at most
  the lowest one listed, so the score is bounded: only "Yes" listed, the bound
  ``log P(Yes) - lowest`` is a lower bound and decides; only "No" listed, the upper bound
  ``lowest - log P(No)`` decides when it is at most the threshold (a veto), else the
  verdict fails; neither listed: the verdict fails (raise ``top_logprobs``). A failed
  verdict is a veto under the default policy.

Frozen: with ``lock=`` (a lock file from ``consent-gym freeze-judge``) the judge reads all
canaries at construction, every ``verify_every`` batches and on ``verify_frozen(full=True)``
(start and end of SB3 training), and one canary (in turn) with every batch it scores,
checked before that batch's verdicts are returned; any difference beyond the lock's
tolerance raises :class:`~consent_gym.judges.FrozenJudgeError`. Without a lock,
``verify_frozen(full=True)`` raises it too (training refuses an unlocked remote judge)
unless ``allow_unlocked=True`` says the user accepts a judge that may change.

Faults (time-out, connection refused or dropped, 5xx, malformed JSON, rate limiting with
bounded retries: :mod:`consent_gym.judges.served_client`) fail the episodes they touch,
never approve them; the verdicts of the other episodes of the batch stand.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from consent_gym.judges.base import Verdict, failed_verdict
from consent_gym.judges.cache import VerdictCache, verdict_from_score
from consent_gym.judges.frozen import FrozenJudgeError
from consent_gym.judges.judge_lock import (
    CANARY_EPISODES,
    CanaryReading,
    JudgeLock,
    calibrate_tolerance,
    canary_texts,
    compare_readings,
    now_iso,
)
from consent_gym.judges.llm import (
    DEFAULT_EXAMPLES,
    build_prefix_texts,
    channel_headers,
    channel_score,
    parse_examples,
    prompt_suffix,
    resolve_headers,
)
from consent_gym.judges.scoring import ScoringJudge, escape_episode, resolve_cache
from consent_gym.judges.served_client import RetryPolicy, ServerClient, ServerError

__all__ = [
    "EMPTY_EPISODE",
    "SERVED_METHODS",
    "PromptLogprobsUnavailable",
    "ServedJudge",
    "answer_score",
    "episode_logprob",
    "freeze_served_judge",
]

SERVED_METHODS: tuple[str, ...] = ("channel", "yesno")
#: What an empty episode is scored as (the embedded judge writes the same).
EMPTY_EPISODE = "(empty episode)"
#: The reading kind of each method's lock.
_LOCK_KIND = {"channel": "prompt", "yesno": "next_token"}
_ANSWERS = {"yes": True, "no": False}


class PromptLogprobsUnavailable(ValueError):
    """The server gives no prompt log-probs, which the channel method needs."""


def _no_prompt_logprobs(base_url: str, detail: str) -> PromptLogprobsUnavailable:
    return PromptLogprobsUnavailable(
        f"the server at {base_url} gives no prompt log-probs ({detail}). method='channel' "
        "scores the episode's own tokens, so it needs /v1/completions with echo=true and "
        "logprobs: serve the model with vLLM, SGLang's OpenAI server, or llama-cpp-python "
        "(python -m llama_cpp.server --model M.gguf --logits_all true). llama.cpp's own "
        "llama-server refuses echo; with an instruct model there, use method='yesno'."
    )


def episode_logprob(
    choice: Any, prefix_chars: int, prompt_chars: int
) -> tuple[float, int]:
    """Sum of the log-probs of the tokens between ``prefix_chars`` and ``prompt_chars``
    (the episode) in one ``/v1/completions`` choice answered with ``echo`` and ``logprobs``;
    returns ``(sum, tokens)``. A token that starts before the episode but reaches into it
    counts as the episode's (the server merged across the boundary).

    Raises:
        ValueError: the choice holds no usable prompt log-probs (the message says which
            part is missing).

    Example:
        >>> choice = {"text": "ab cd!", "logprobs": {"tokens": ["ab", " cd", "!"],
        ...           "text_offset": [0, 2, 5], "token_logprobs": [None, -1.5, -0.25]}}
        >>> episode_logprob(choice, 2, 6)
        (-1.75, 2)
    """
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    if not isinstance(logprobs, dict):
        raise ValueError("the answer holds no logprobs")
    tokens, offsets = logprobs.get("tokens"), logprobs.get("text_offset")
    values = logprobs.get("token_logprobs")
    if not (isinstance(tokens, list) and isinstance(offsets, list) and isinstance(values, list)
            and len(tokens) == len(offsets) == len(values)):
        raise ValueError("logprobs lacks tokens, text_offset and token_logprobs of one length")
    total, count = 0.0, 0
    for token, start, value in zip(tokens, offsets, values, strict=True):
        if not isinstance(start, int) or not isinstance(token, str):
            raise ValueError(f"malformed token {token!r} at offset {start!r}")
        end = start + len(token)
        if start >= prompt_chars or end <= prefix_chars:
            continue  # the header before, or the generated token after
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not (
            math.isfinite(value)
        ):
            raise ValueError(f"episode token {token!r} has log-prob {value!r}")
        total += float(value)
        count += 1
    if count == 0:
        raise ValueError("no episode token came back (the server did not echo the prompt)")
    return total, count


def _answer_candidates(choice: Any) -> list[tuple[str, float]]:
    """``(token, logprob)`` of the first generated token's top candidates in a chat answer."""
    try:
        first = choice["logprobs"]["content"][0]
        candidates = first["top_logprobs"]
        out = [(str(c["token"]), float(c["logprob"])) for c in candidates]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(
            f"the chat answer holds no top_logprobs of its first token ({exc!r})"
        ) from exc
    if not out or not all(math.isfinite(v) for _, v in out):
        raise ValueError("the chat answer's top_logprobs are empty or not finite")
    return out


def _log_sum_exp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def answer_score(
    candidates: Sequence[tuple[str, float]], threshold: float = 0.0
) -> tuple[float | None, str]:
    """The yes/no score from the top-k next-token candidates, by the rule of the module
    doc; ``(None, why)`` when the candidates cannot decide (the verdict fails).

    Example:
        >>> answer_score([("Yes", -0.2), (" No", -1.9), ("yes", -4.0)])[0] > 1.6
        True
        >>> answer_score([("No", -0.1), ("Maybe", -3.0)])
        (-2.9, "'Yes' not in the top 2: score at most -2.900 (decides a veto)")
        >>> answer_score([("Maybe", -0.1), ("Perhaps", -3.0)])[0] is None
        True
    """
    found: dict[bool, list[float]] = {True: [], False: []}
    for token, value in candidates:
        answer = _ANSWERS.get(token.strip().lower())
        if answer is not None:
            found[answer].append(value)
    k, lowest = len(candidates), min(v for _, v in candidates)
    yes = _log_sum_exp(found[True]) if found[True] else None
    no = _log_sum_exp(found[False]) if found[False] else None
    if yes is not None and no is not None:
        return yes - no, "yes/no"
    if yes is not None:
        return yes - lowest, f"'No' not in the top {k}: score at least {yes - lowest:.3f}"
    if no is not None:
        bound = lowest - no
        if bound <= threshold:
            return bound, f"'Yes' not in the top {k}: score at most {bound:.3f} (decides a veto)"
        return None, f"'Yes' not in the top {k}; the bound {bound:.3f} cannot decide"
    return None, f"neither 'Yes' nor 'No' in the top {k} candidates; raise top_logprobs"


class _CanaryCheck:
    """The behavioural frozen check of a :class:`ServedJudge` (``verify(full)``)."""

    def __init__(self, judge: ServedJudge, lock: JudgeLock | None, verify_every: int,
                 allow_unlocked: bool) -> None:
        self.judge = judge
        self.lock = lock
        self.verify_every = verify_every
        self.allow_unlocked = allow_unlocked
        self.batches = 0
        self.checks = 0
        self._turn = 0
        self._lock = threading.Lock()

    def verify(self, full: bool = True) -> None:
        """Full: read every canary now (and refuse an unlocked judge unless allowed);
        cheap (before each scored batch): the full check every ``verify_every`` batches."""
        if self.lock is None:
            if full and not self.allow_unlocked:
                raise FrozenJudgeError(
                    f"the served judge {self.judge.judge_id!r} has no lock, so nothing proves "
                    "the server's weights stay the same. Create one with consent-gym "
                    "freeze-judge --base-url URL --model NAME --out judge.lock.json and pass "
                    "lock='judge.lock.json' (--judge-lock), or opt out explicitly with "
                    "allow_unlocked=True (--allow-unlocked-judge)."
                )
            return
        if not full:
            with self._lock:
                self.batches += 1
                due = self.batches % self.verify_every == 0
            if not due:
                return
        self.compare(self.lock.texts, self.judge.read_canaries(self.lock.texts))

    def next_sentinel(self) -> str | None:
        """The canary read with the next batch (in turn), or ``None`` when unlocked."""
        if self.lock is None:
            return None
        with self._lock:
            text = self.lock.texts[self._turn % len(self.lock.texts)]
            self._turn += 1
        return text

    def compare(self, texts: list[str], readings: list[CanaryReading]) -> None:
        """Raise FrozenJudgeError when ``readings`` of ``texts`` differ from the lock."""
        assert self.lock is not None
        by_text = {r.text: r for r in self.lock.readings}
        partial = JudgeLock(model=self.lock.model, kind=self.lock.kind,
                            readings=tuple(by_text[t] for t in texts),
                            tolerance=self.lock.tolerance)
        problems = compare_readings(partial, readings)
        with self._lock:
            self.checks += 1
        if problems:
            raise FrozenJudgeError(
                f"the served judge {self.judge.judge_id!r} no longer behaves as its lock "
                f"recorded ({'; '.join(problems[:3])}): the server's weights or model "
                "changed. Stop, find out what the server now serves, and re-create the lock "
                "only if the change was intended."
            )


class ServedJudge(ScoringJudge):
    """A judge on an OpenAI-compatible server (see the module doc).

    Args:
        base_url: The server's API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server serves (its ``model`` request field).
        method: ``"channel"`` (default; needs prompt log-probs) or ``"yesno"`` (chat
            top log-probs; for instruct models).
        instructions, examples, headers, threshold: As for
            :class:`~consent_gym.judges.LLMJudge` (same prompts, same defaults).
        cache: As for :class:`~consent_gym.judges.LLMJudge`.
        lock: A :class:`~consent_gym.judges.judge_lock.JudgeLock` or the path of a lock
            file (``consent-gym freeze-judge``); checked at construction.
        allow_unlocked: Let training use this judge without a lock (explicit opt-out).
        verify_every: Batches between full canary checks (one canary rides along with
            every batch in any case).
        api_key_env: Name of the environment variable holding the API key.
        timeout_s: Seconds one request may take.
        retry: Retries of rate-limited or unreachable requests
            (:class:`~consent_gym.judges.served_client.RetryPolicy`).
        max_in_flight: Requests sent at once (a thread pool).
        prompts_per_request: For ``"channel"``: prompts per ``/v1/completions`` request
            (vLLM takes a list; llama-cpp-python's server only one).
        top_logprobs: For ``"yesno"``: candidates asked for (the rule when an answer is
            missing is in the module doc).
        max_episode_chars: Longer episodes keep their head and tail (the embedded judge
            cuts by tokens, which a remote judge cannot count).

    Attributes:
        judge_id: ``served:<host>:<port>:<model>:<lock digest or "unlocked">:<prompt hash>``
            (never the API key).
        client: The :class:`~consent_gym.judges.served_client.ServerClient` (request and
            fault counters).
        thread_safe: ``True``: several threads may call :meth:`judge_batch` at once (a
            judge pipeline and the decision step; each call is HTTP requests, the cache
            and the canary check are locked).
    """

    thread_safe = True

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        method: str = "channel",
        instructions: str | None = None,
        examples: Iterable[Any] | None = None,
        headers: Any = None,
        threshold: float | None = None,
        cache: VerdictCache | str | os.PathLike[str] | bool | None = True,
        lock: JudgeLock | str | os.PathLike[str] | None = None,
        allow_unlocked: bool = False,
        verify_every: int = 50,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_in_flight: int = 4,
        prompts_per_request: int = 1,
        top_logprobs: int = 20,
        max_episode_chars: int = 4000,
    ) -> None:
        if method not in SERVED_METHODS:
            raise ValueError(f"method={method!r} is not supported; use one of {SERVED_METHODS}.")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be the non-empty name the server serves.")
        for name, value, least in (("verify_every", verify_every, 1),
                                   ("max_in_flight", max_in_flight, 1),
                                   ("prompts_per_request", prompts_per_request, 1),
                                   ("top_logprobs", top_logprobs, 2),
                                   ("max_episode_chars", max_episode_chars, 16)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}.")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(
                threshold, (int, float)) or not math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number or None, got {threshold!r}.")
        if instructions is not None and not isinstance(instructions, str):
            raise TypeError(f"instructions must be a str, got {type(instructions).__name__}.")
        self.client = ServerClient(base_url, api_key_env=api_key_env, timeout_s=timeout_s,
                                   retry=retry)
        self.base_url = self.client.base_url
        self.model = model
        self.method = method
        self.instructions = instructions.strip() if instructions else ""
        self.examples = parse_examples(DEFAULT_EXAMPLES if examples is None else examples)
        self.headers, self.combine = resolve_headers(headers)
        self.threshold = float(threshold) if threshold is not None else 0.0
        self.prompts_per_request = prompts_per_request
        self.top_logprobs = top_logprobs
        self.max_episode_chars = max_episode_chars
        self.prefixes = build_prefix_texts(method, self.instructions, self.examples,
                                           self.headers, self.combine)
        self.suffix = prompt_suffix(method)
        self._wants = [want for _, want in channel_headers(self.headers, self.combine)]
        self.prompt = json.dumps(
            {"served": method, "combine": self.combine, "prefixes": self.prefixes,
             "suffix": self.suffix, "max_episode_chars": max_episode_chars,
             "top_logprobs": top_logprobs if method == "yesno" else None},
            sort_keys=True,
        )
        if isinstance(lock, (str, os.PathLike)):
            lock = JudgeLock.load(lock)
        if lock is not None:
            if not isinstance(lock, JudgeLock):
                raise TypeError(f"lock must be a JudgeLock or a path, got {type(lock).__name__}.")
            if lock.model != model or lock.kind != _LOCK_KIND[method]:
                raise ValueError(
                    f"the lock was recorded for model {lock.model!r} ({lock.kind} readings), "
                    f"not for model {model!r} with method={method!r}; freeze this judge with "
                    f"consent-gym freeze-judge --model {model} --method {method}."
                )
        self.lock = lock
        prompt_hash = hashlib.sha256(
            f"{self.prompt}\0threshold={self.threshold!r}".encode()
        ).hexdigest()[:12]
        self.fingerprint = lock.digest[:16] if lock is not None else "unlocked"
        self.judge_id = (f"served:{self.client.host}:{self.client.port}:{model}:"
                         f"{self.fingerprint}:{prompt_hash}")
        self.cache = resolve_cache(cache)
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight,
                                        thread_name_prefix="served-judge")
        self._canaries = _CanaryCheck(self, lock, verify_every, allow_unlocked)
        self._fingerprint = self._canaries
        # Fail at construction, not in the first rollout: a lock is checked whole; without
        # one, one canary shows that the server gives what the method needs.
        try:
            if lock is not None:
                self._canaries.verify(full=True)
            else:
                self.read_canaries(canary_texts()[:1])
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- prompts
    def episode_text(self, text: str) -> str:
        """The episode as it goes into the prompt: escaped, cut to ``max_episode_chars``
        (head and tail), :data:`EMPTY_EPISODE` when nothing is left."""
        escaped = escape_episode(text) or EMPTY_EPISODE
        if len(escaped) > self.max_episode_chars:
            half = self.max_episode_chars // 2
            escaped = f"{escaped[:half]} ... {escaped[-(self.max_episode_chars - half - 5):]}"
        return escaped

    def judge_prompts(self, text: str) -> list[str]:
        """The complete prompts sent for one episode (one per channel header; one for
        ``"yesno"``, its chat message)."""
        body = self.episode_text(text) + self.suffix
        return [prefix + body for prefix in self.prefixes]

    # ----------------------------------------------------------------- requests
    def _completions(self, prompts: list[str]) -> list[Any]:
        """One ``/v1/completions`` request with echo for ``prompts``; a choice per prompt."""
        payload = {"model": self.model, "prompt": prompts[0] if len(prompts) == 1 else prompts,
                   "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}
        try:
            answer = self.client.post("completions", payload)
        except ServerError as exc:
            body = exc.body.lower()
            if exc.kind == "http" and ("echo" in body or "logits_all" in body
                                       or "logprobs is not supported" in body):
                raise _no_prompt_logprobs(self.base_url, str(exc)) from exc
            raise
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not isinstance(choices, list) or len(choices) != len(prompts):
            raise ServerError(
                f"{self.base_url}/completions answered {answer!r:.200} (expected "
                f"{len(prompts)} choices)", kind="response",
            )
        if len(prompts) > 1:
            if not all(isinstance(c, dict) for c in choices):
                raise ServerError("a choice is not an object", kind="response")
            choices = sorted(choices, key=lambda c: c.get("index", 0))
        return choices

    def _chat_candidates(self, content: str) -> list[tuple[str, float]]:
        payload = {"model": self.model, "messages": [{"role": "user", "content": content}],
                   "max_tokens": 1, "temperature": 0.0, "logprobs": True,
                   "top_logprobs": self.top_logprobs}
        answer = self.client.post("chat/completions", payload)
        try:
            return _answer_candidates(answer["choices"][0])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ServerError(
                f"{self.base_url}/chat/completions: {exc}", kind="response"
            ) from exc

    def _prompt_sums(self, prompts: list[str], prefixes: list[str]) -> list[float]:
        """``log P(episode part | prefix)`` for each prompt (one request per
        ``prompts_per_request`` prompts)."""
        out = []
        for choice, prompt, prefix in zip(self._completions(prompts), prompts, prefixes,
                                          strict=True):
            try:
                total, _ = episode_logprob(choice, len(prefix), len(prompt))
            except ValueError as exc:
                raise _no_prompt_logprobs(self.base_url, str(exc)) from exc
            out.append(total)
        return out

    def read_canaries(self, texts: Sequence[str]) -> list[CanaryReading]:
        """Read ``texts`` on the server the way this judge's lock records them."""
        futures = [self._pool.submit(self._read_canary, t) for t in texts]
        return [f.result() for f in futures]

    def _read_canary(self, text: str) -> CanaryReading:
        if self.method == "yesno":
            candidates = self._chat_candidates(text)
            return CanaryReading(text, tuple(t for t, _ in candidates),
                                 tuple(v for _, v in candidates))
        (choice,) = self._completions([text])
        logprobs: Any = choice.get("logprobs") if isinstance(choice, dict) else None
        try:
            rows = list(zip(logprobs["tokens"], logprobs["text_offset"],
                            logprobs["token_logprobs"], strict=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise _no_prompt_logprobs(self.base_url, f"canary answer {exc!r}") from exc
        # Every prompt token but the first (which has no log-prob); the generated one is not.
        kept = [(str(t), float(v)) for t, start, v in rows[1:]
                if isinstance(start, int) and start < len(text) and v is not None]
        if not kept:
            raise _no_prompt_logprobs(self.base_url, "the canary came back without log-probs")
        return CanaryReading(text, tuple(t for t, _ in kept), tuple(v for _, v in kept))

    def lock_canaries(self) -> list[str]:
        """The canary texts a lock of this judge records: plain texts and this judge's own
        prompts around :data:`~consent_gym.judges.judge_lock.CANARY_EPISODES` (the first
        two headers' prompts for ``"channel"``)."""
        prompts = []
        for k, episode in enumerate(CANARY_EPISODES):
            full = self.judge_prompts(episode)
            prompts.append(full[k % len(full)])
        return canary_texts(prompts)

    # ----------------------------------------------------------------- scoring
    def score_texts(self, texts: Sequence[str]) -> list[float | None]:
        """The raw score of each text (``None`` where the server could not give one; the
        reason is in the verdict that :meth:`judge_batch` returns)."""
        return [score for score, _ in self._scores(list(texts), sentinel=None)]

    def _scores(self, texts: list[str], sentinel: str | None) -> list[tuple[float | None, str]]:
        """``(score or None, reason)`` per text; the sentinel canary (if any) is read with
        the batch and compared before anything is returned."""
        # (text, header, request, position of the prompt in the request)
        jobs: list[tuple[int, int, Future[Any], int]] = []
        if self.method == "channel":
            pairs = [(i, k) for k in range(len(self.prefixes)) for i in range(len(texts))]
            bodies = [self.episode_text(t) for t in texts]
            step = self.prompts_per_request
            for start in range(0, len(pairs), step):
                chunk = pairs[start : start + step]
                prefixes = [self.prefixes[k] for _, k in chunk]
                prompts = [self.prefixes[k] + bodies[i] for i, k in chunk]
                future: Future[Any] = self._pool.submit(self._prompt_sums, prompts, prefixes)
                jobs.extend((i, k, future, n) for n, (i, k) in enumerate(chunk))
        else:
            for i, text in enumerate(texts):
                prompt = self.judge_prompts(text)[0]
                jobs.append((i, 0, self._pool.submit(self._chat_candidates, prompt), 0))
        sentinel_reading = (self._pool.submit(self._read_canary, sentinel)
                            if sentinel is not None else None)
        sums = [[0.0] * len(self.prefixes) for _ in texts]
        results: dict[int, tuple[float | None, str]] = {}
        for i, k, future, n in jobs:
            try:
                answer = future.result()
            except Exception as exc:  # a fault fails the episodes of that request only
                results.setdefault(i, (None, f"served judge: {exc}"))
                continue
            if self.method == "channel":
                sums[i][k] = answer[n]
            else:
                score, why = answer_score(answer, self.threshold)
                results[i] = (score, f"served yesno: {why}")
        if sentinel_reading is not None and sentinel is not None:
            self._canaries.compare([sentinel], [sentinel_reading.result()])
        if self.method == "channel":
            for i in range(len(texts)):
                if i not in results:
                    results[i] = (channel_score(sums[i], self._wants, self.combine),
                                  "served channel")
        return [results[i] for i in range(len(texts))]

    def _decide(self, texts: list[str]) -> list[Verdict]:
        sentinel = self._canaries.next_sentinel()
        scored = self._scores(texts, sentinel)
        if all(score is None for score, _ in scored):
            # Nothing came back: a judge failure, which judge_texts turns into failed
            # verdicts (or raises, or approves, as the caller's on_judge_error says).
            raise ServerError(scored[0][1], kind="response")
        verdicts = []
        for score, why in scored:
            if score is None:
                verdicts.append(failed_verdict(self.judge_id, why))
            else:
                verdicts.append(verdict_from_score(self.judge_id, score, self.threshold,
                                                   label=why))
        return verdicts

    # ----------------------------------------------------------------- frozen behaviour
    def verify_frozen(self, full: bool = True) -> None:
        """Raise :class:`~consent_gym.judges.FrozenJudgeError` if the server no longer
        behaves as the lock recorded, or (``full``) if there is no lock and
        ``allow_unlocked`` was not given."""
        self._fingerprint.verify(full=full)

    def close(self) -> None:
        """Stop the request threads (the judge cannot judge afterwards)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ServedJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ServedJudge(base_url={self.base_url!r}, model={self.model!r}, "
                f"method={self.method!r}, judge_id={self.judge_id!r})")


def freeze_served_judge(judge: ServedJudge, repeats: int = 3) -> JudgeLock:
    """Record a lock for ``judge``'s server: its canaries (:meth:`ServedJudge.lock_canaries`)
    read ``repeats`` times, the first one at a time, the later ones all in flight at once
    (batch-size and prompt-cache nondeterminism show up between them), with the tolerance
    calibrated from the differences (:func:`~consent_gym.judges.judge_lock.calibrate_tolerance`).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"repeats must be an int >= 2, got {repeats!r}.")
    texts = judge.lock_canaries()
    readings = [[judge._read_canary(t) for t in texts]]
    readings += [judge.read_canaries(texts) for _ in range(repeats - 1)]
    tolerance, calibration = calibrate_tolerance(readings, _LOCK_KIND[judge.method])
    return JudgeLock(model=judge.model, kind=_LOCK_KIND[judge.method],
                     readings=tuple(readings[0]), tolerance=tolerance,
                     calibration=calibration, created=now_iso(),
                     server=f"{judge.client.host}:{judge.client.port}")
