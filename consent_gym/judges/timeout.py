"""Bound how long a judge may take: a judge that hangs must not hang training, nor approve."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from consent_gym.judges.base import Judge, Verdict, check_judge


class TimeLimitedJudge:
    """Wraps a judge so that a batch taking longer than ``timeout_s`` raises ``TimeoutError``.

    Called through :func:`~consent_gym.judges.judge_texts` (as the wrappers and SB3 buffers
    do), the time-out becomes a *failed* verdict for every text of the batch: a veto with
    the reason recorded, never an approval. The late batch keeps running in a daemon
    thread and its answer is discarded.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge`.
        timeout_s: Seconds a batch may take (> 0).

    Example:
        >>> import time
        >>> from consent_gym.judges import RuleJudge, judge_texts
        >>> slow = RuleJudge(lambda text: time.sleep(1.0) or True, name="slow")
        >>> [v.outcome for v in judge_texts(TimeLimitedJudge(slow, timeout_s=0.05), ["a"])]
        ['failed']
    """

    def __init__(self, judge: Judge, timeout_s: float) -> None:
        check_judge(judge)
        if not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}.")
        self.judge = judge
        self.timeout_s = float(timeout_s)
        self.judge_id = judge.judge_id

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """The wrapped judge's verdicts, or ``TimeoutError`` after ``timeout_s`` seconds."""
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["verdicts"] = self.judge.judge_batch(texts)
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"judge-{self.judge_id}", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise TimeoutError(
                f"judge {self.judge_id!r} took longer than {self.timeout_s:g}s for "
                f"{len(texts)} texts"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["verdicts"]

    def __getattr__(self, name: str) -> Any:
        # verify_frozen, cache statistics, ...: whatever the wrapped judge offers.
        if name == "judge":
            raise AttributeError(name)
        return getattr(self.judge, name)

    def __repr__(self) -> str:
        return f"TimeLimitedJudge({self.judge!r}, timeout_s={self.timeout_s:g})"
