"""Pipelined judging: episodes are judged in the background as they finish.

A learner that judges at the end of its rollout (the SB3 buffers,
:class:`~consent_gym.rollout.RolloutConsent`) waits for the judge while nothing else
happens. With a :class:`JudgePipeline` the episodes are sent to the judge as they finish
(:func:`consent_gym.gate.submit_to_pipeline`, called by those consumers at each episode
end), on a few background threads, several batches in flight, so that at the rollout's
end the decision step only awaits the last ones.

The pipeline never decides: it only computes verdicts ahead. :func:`consent_gym.gate.decide`
stays the one place that decides, logs and releases: it *takes* the verdicts computed
ahead (waiting for those still in flight), judges everything else itself, and writes the
audit line of every verdict it uses. What the pipeline hands over is never trusted more
than a fresh call:

- a prefetch that failed (an exception, a failed verdict) or did not finish within
  ``wait_s`` is not used: ``decide`` judges that text again itself, under the settings'
  failure policy, exactly as without a pipeline;
- a :class:`~consent_gym.judges.FrozenJudgeError` seen by any prefetch is raised by the
  next :meth:`JudgePipeline.take` (training stops, as when ``decide`` sees it);
- verdicts are keyed by the judge's ``judge_id`` and the text (as the verdict cache), so a
  verdict of another judge, or of the same judge with another lock or prompt, is never
  taken.

Judges are called from the pipeline's threads and from ``decide`` at once only when they
say they allow it (a true ``thread_safe`` attribute, e.g.
:class:`~consent_gym.judges.ServedJudge`, whose calls are HTTP requests); any other judge
(the embedded LLM, rule judges, panels) is called by one thread at a time
(:meth:`JudgePipeline.calling`), so pipelining then overlaps judging with stepping the
envs, not judge calls with each other.

Example:
    >>> from consent_gym.judges import RuleJudge
    >>> judge = RuleJudge(lambda text: "pedestrian" not in text, name="no-peds")
    >>> pipeline = JudgePipeline(workers=1)
    >>> pipeline.submit(judge, ["road", "hit pedestrian"])
    2
    >>> [v.outcome for v in pipeline.take(judge, ["road", "hit pedestrian", "unseen"])
    ...  if v is not None]
    ['approved', 'vetoed']
    >>> pipeline.close()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from consent_gym.judges.base import Judge, Verdict, judge_texts
from consent_gym.judges.cache import VerdictCache
from consent_gym.judges.frozen import FrozenJudgeError

__all__ = ["JudgePipeline", "PipelineClosed"]


class PipelineClosed(RuntimeError):
    """A text was still queued when its pipeline was closed (``decide`` judges it itself)."""


@dataclass
class _Entry:
    """One text sent ahead: its verdict to come, and how many decisions still want it."""

    future: Future[Verdict]
    wanted: int


class JudgePipeline:
    """Judges texts on background threads ahead of the decision step (see the module doc).

    Args:
        workers: Background threads, each with one judge call (batch) in flight; with a
            :class:`~consent_gym.judges.ServedJudge`, each batch is itself sent as
            several requests at once (its ``max_in_flight``). More than 1 helps only a
            ``thread_safe`` judge on a server that batches concurrent requests; against
            one llama-cpp-python server it split batches and cost time
            (docs/served-judge.md).
        max_batch: Most texts per judge call; the texts queued when a thread is free go
            together (a judge that takes a list scores them in one batch).
        wait_s: Most seconds :meth:`take` waits for verdicts still in flight before it
            gives up on them (``decide`` then judges those texts itself); ``None``: no
            limit.
        max_entries: Most texts held (sent ahead and not yet taken); beyond it nothing
            more is sent ahead (those texts are judged by ``decide``).

    Attributes:
        submitted, used, failed, timed_out, skipped: Counters: texts sent ahead; verdicts
            taken and usable; prefetches that failed (not used); given up on after
            ``wait_s``; not sent (``max_entries`` reached, or closed).
    """

    def __init__(self, workers: int = 1, max_batch: int = 16, wait_s: float | None = 600.0,
                 max_entries: int = 100_000) -> None:
        for name, value in (("workers", workers), ("max_batch", max_batch),
                            ("max_entries", max_entries)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        if wait_s is not None and (isinstance(wait_s, bool) or not isinstance(
                wait_s, (int, float)) or not wait_s >= 0):
            raise ValueError(f"wait_s must be a number of seconds >= 0 or None, got {wait_s!r}.")
        self.workers, self.max_batch = workers, max_batch
        self.wait_s = None if wait_s is None else float(wait_s)
        self.max_entries = max_entries
        self._start()

    def _start(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[tuple[Judge, str, Future[Verdict]]] = deque()  # judge, text, its verdict
        self._entries: dict[str, _Entry] = {}
        self._threads: list[threading.Thread] = []
        self._call_locks: dict[int, tuple[Judge, threading.Lock]] = {}
        self._closed = False
        self.frozen_error: FrozenJudgeError | None = None
        self.submitted = self.used = self.failed = self.timed_out = self.skipped = 0

    # ------------------------------------------------------------------ calling a judge
    @contextlib.contextmanager
    def calling(self, judge: Judge) -> Iterator[None]:
        """Hold while calling ``judge``: one caller at a time unless it is ``thread_safe``."""
        if getattr(judge, "thread_safe", False) is True:
            yield
            return
        with self._cond:
            pair = self._call_locks.get(id(judge))
            if pair is None or pair[0] is not judge:
                pair = (judge, threading.Lock())
                self._call_locks[id(judge)] = pair
        with pair[1]:
            yield

    # ------------------------------------------------------------------ sending ahead
    @staticmethod
    def key(judge: Judge, text: str) -> str:
        """What a verdict is kept under: the judge's id and the text (as the cache)."""
        return VerdictCache.key(str(judge.judge_id), "pipeline", text)

    def submit(self, judge: Judge, texts: Sequence[str]) -> int:
        """Queue ``texts`` to be judged by ``judge`` in the background; returns how many
        were newly queued (a text already held is not judged twice)."""
        if isinstance(texts, str):
            raise TypeError("submit expects a list of episode texts, not one string.")
        added = 0
        with self._cond:
            for text in texts:
                if not isinstance(text, str):
                    raise TypeError(f"episode texts must be str, got {type(text).__name__}.")
                key = self.key(judge, text)
                entry = self._entries.get(key)
                if entry is not None:
                    entry.wanted += 1
                    continue
                if self._closed or len(self._entries) >= self.max_entries:
                    self.skipped += 1
                    continue
                future: Future[Verdict] = Future()
                self._entries[key] = _Entry(future, 1)
                self._queue.append((judge, text, future))
                added += 1
            self.submitted += added
            if added:
                while len(self._threads) < self.workers:
                    thread = threading.Thread(target=self._work, name="consent-judge-pipeline",
                                              daemon=True)
                    thread.start()
                    self._threads.append(thread)
                self._cond.notify_all()
        return added

    def _next_judge(self) -> Judge | None:
        """The judge of the oldest queued text, once there is one; ``None``: stop."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            return self._queue[0][0] if self._queue else None

    def _take_batch(self, judge: Judge) -> list[tuple[str, Future[Verdict]]]:
        """Up to ``max_batch`` queued texts of ``judge`` (oldest first), off the queue."""
        with self._cond:
            batch: list[tuple[str, Future[Verdict]]] = []
            kept: deque[tuple[Judge, str, Future[Verdict]]] = deque()
            while self._queue:
                item = self._queue.popleft()
                if item[0] is judge and len(batch) < self.max_batch:
                    batch.append((item[1], item[2]))
                else:
                    kept.append(item)
            self._queue = kept
            return batch

    def _work(self) -> None:
        while True:
            judge = self._next_judge()
            if judge is None:
                return
            # The batch is taken once this thread may call the judge, so the texts that
            # queued while another call ran go together (one call, not one per thread).
            with self.calling(judge):
                batch = self._take_batch(judge)
                if not batch:
                    continue
                try:
                    # "veto": a failure becomes a failed verdict, which take() never uses.
                    verdicts: list[Any] = judge_texts(judge, [text for text, _ in batch],
                                                      on_judge_error="veto")
                except BaseException as exc:  # FrozenJudgeError: judge_texts lets it through
                    if isinstance(exc, FrozenJudgeError):
                        with self._cond:
                            self.frozen_error = exc
                    verdicts = [exc] * len(batch)
            for (_, future), verdict in zip(batch, verdicts, strict=True):
                if isinstance(verdict, BaseException):
                    future.set_exception(verdict)
                else:
                    future.set_result(verdict)

    # ------------------------------------------------------------------ taking verdicts
    def take(self, judge: Judge, texts: Sequence[str],
             wait_s: float | None = None) -> list[Verdict | None]:
        """The verdict computed ahead for each text, or ``None`` where there is none to
        trust (never sent, failed, or still unfinished after ``wait_s``, default the
        pipeline's): the caller judges those itself. Texts taken are released.

        Raises:
            FrozenJudgeError: a prefetch found the judge changed (training must stop).
        """
        if self.frozen_error is not None:
            raise self.frozen_error
        limit = self.wait_s if wait_s is None else wait_s
        deadline = None if limit is None else time.monotonic() + limit
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            positions.setdefault(self.key(judge, text), []).append(i)
        found: dict[str, Future[Verdict]] = {}
        with self._cond:
            for key, where in positions.items():
                entry = self._entries.get(key)
                if entry is None:
                    continue
                found[key] = entry.future
                entry.wanted -= len(where)
                if entry.wanted <= 0:
                    del self._entries[key]
        out: list[Verdict | None] = [None] * len(texts)
        for key, future in found.items():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                # exception(), not result(): only what the prefetch raised is caught; what
                # interrupts this wait itself (Ctrl-C, a signal handler) propagates.
                error = future.exception(timeout=remaining)
            except FutureTimeout:
                with self._cond:
                    self.timed_out += 1
                continue
            if error is not None:
                if isinstance(error, FrozenJudgeError):
                    raise error
                with self._cond:
                    self.failed += 1
                continue
            verdict = future.result()
            if verdict.failed:
                with self._cond:
                    self.failed += 1
                continue
            with self._cond:
                self.used += 1
            for i in positions[key]:
                out[i] = verdict
        return out

    @property
    def pending(self) -> int:
        """Texts sent ahead and not yet taken."""
        with self._cond:
            return len(self._entries)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop the threads; queued texts are dropped (``decide`` judges them itself)."""
        with self._cond:
            self._closed = True
            queued, self._queue = list(self._queue), deque()
            self._cond.notify_all()
        for _, _, future in queued:
            future.set_exception(PipelineClosed("the judge pipeline was closed"))

    def __getstate__(self) -> dict[str, Any]:
        # Saved with a model's buffer kwargs: the configuration, never threads or verdicts.
        return {"workers": self.workers, "max_batch": self.max_batch, "wait_s": self.wait_s,
                "max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start()

    def __repr__(self) -> str:
        return (f"JudgePipeline(workers={self.workers}, max_batch={self.max_batch}, "
                f"wait_s={self.wait_s}, pending={len(self._entries)})")
