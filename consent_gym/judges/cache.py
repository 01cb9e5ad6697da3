"""A persistent verdict cache: repeated episodes cost one dict lookup.

Keys are ``sha256(judge_id + prompt + text)``, so a verdict is only reused by the very same
frozen judge (weights, prompt and threshold all enter ``judge_id`` / ``prompt``). Lookups go to
an in-memory dict first; with a ``path`` every verdict is also written to sqlite and read back
on the next run.

Example:
    >>> from consent_gym.judges.base import Verdict, failed_verdict
    >>> cache = VerdictCache()
    >>> key = cache.key("rule:x", "prompt", "the car stayed on the road")
    >>> cache.get(key) is None
    True
    >>> cache.put(key, Verdict(approved=True, p_acceptable=0.9, judge_id="rule:x"))
    >>> cache.get(key).approved
    True
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from consent_gym.judges.base import Verdict, failed_verdict

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS verdicts ("
    "key TEXT PRIMARY KEY, approved INTEGER NOT NULL, p_acceptable REAL NOT NULL, "
    "judge_id TEXT NOT NULL, reason TEXT NOT NULL)"
)


class VerdictCache:
    """Verdicts keyed by judge id, prompt and text; in memory, optionally in sqlite.

    Args:
        path: sqlite file to persist to (created with its parent folder); ``None`` keeps the
            cache in memory only.
        max_memory_items: The in-memory front is cleared when it grows past this size (the
            sqlite file keeps everything).

    Failed verdicts are never cached: a judge that failed once is asked again.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, max_memory_items: int = 1_000_000
    ) -> None:
        if max_memory_items < 1:
            raise ValueError(f"max_memory_items must be >= 1, got {max_memory_items}.")
        self.path = None if path is None else Path(path).expanduser()
        self.max_memory_items = max_memory_items
        self._memory: dict[str, Verdict] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()

    @staticmethod
    def key(judge_id: str, prompt: str, text: str) -> str:
        """The cache key: sha256 over judge id, prompt and text (NUL-separated)."""
        h = hashlib.sha256()
        for part in (judge_id, prompt, text):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        return h.hexdigest()

    def get(self, key: str) -> Verdict | None:
        """The cached verdict for ``key``, or ``None`` (thread-safe: a judge pipeline and
        the decision step may look up at once)."""
        with self._lock:
            verdict = self._memory.get(key)
            if verdict is not None:
                self.hits += 1
                return verdict
            if self._db is not None:
                row = self._db.execute(
                    "SELECT approved, p_acceptable, judge_id, reason FROM verdicts WHERE key=?",
                    (key,),
                ).fetchone()
                if row is not None:
                    verdict = Verdict(
                        approved=bool(row[0]), p_acceptable=float(row[1]), judge_id=row[2],
                        reason=row[3],
                    )
                    self._remember(key, verdict)
                    self.hits += 1
                    return verdict
            self.misses += 1
            return None

    def get_many(self, keys: Iterable[str]) -> list[Verdict | None]:
        """``get`` for each key, in order."""
        return [self.get(k) for k in keys]

    def _remember(self, key: str, verdict: Verdict) -> None:
        if len(self._memory) >= self.max_memory_items:
            self._memory.clear()
        self._memory[key] = verdict

    def put(self, key: str, verdict: Verdict) -> None:
        """Store ``verdict`` (ignored when it is a failed verdict)."""
        self.put_many([(key, verdict)])

    def put_many(self, items: Iterable[tuple[str, Verdict]]) -> None:
        """Store several verdicts in one sqlite transaction."""
        with self._lock:
            rows = []
            for key, verdict in items:
                if verdict.failed:
                    continue
                self._remember(key, verdict)
                rows.append(
                    (key, int(verdict.approved), float(verdict.p_acceptable), verdict.judge_id,
                     verdict.reason)
                )
            if self._db is not None and rows:
                self._db.executemany(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)", rows
                )
                self._db.commit()

    def __len__(self) -> int:
        if self._db is not None:
            with self._lock:
                return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
        return len(self._memory)

    def close(self) -> None:
        """Close the sqlite connection (the in-memory front stays usable)."""
        if self._db is not None:
            with self._lock:
                self._db.close()
            self._db = None

    def __repr__(self) -> str:
        return f"VerdictCache(path={self.path!r}, items={len(self._memory)} in memory)"


def judge_with_cache(
    texts: Sequence[str],
    cache: VerdictCache | None,
    judge_id: str,
    prompt: str,
    decide: Callable[[list[str]], list[Verdict]],
    before_deciding: Callable[[], None],
) -> list[Verdict]:
    """One verdict per text: from ``cache`` where it has one, else from ``decide``.

    The model judges share this: cached verdicts come back without touching the model
    (they came from the same frozen weights: the key holds ``judge_id``); only when some
    text misses does ``before_deciding`` run (the cheap frozen-weights check), then
    ``decide`` once over the *distinct* missing texts (a text repeated in the batch is
    scored once). Fresh verdicts are stored, failed ones never.

    Example:
        >>> calls = []
        >>> def decide(texts):
        ...     calls.append(list(texts))
        ...     return [Verdict(True, 0.9, "j") for _ in texts]
        >>> cache = VerdictCache()
        >>> _ = judge_with_cache(["a", "b", "a"], cache, "j", "p", decide, lambda: None)
        >>> _ = judge_with_cache(["a", "b"], cache, "j", "p", decide, lambda: None)
        >>> calls
        [['a', 'b']]
    """
    keys: list[str] = []
    verdicts: list[Verdict | None] = [None] * len(texts)
    if cache is not None:
        keys = [VerdictCache.key(judge_id, prompt, t) for t in texts]
        verdicts = cache.get_many(keys)
    todo: dict[str, list[int]] = {}
    for i, verdict in enumerate(verdicts):
        if verdict is None:
            todo.setdefault(texts[i], []).append(i)
    if todo:
        before_deciding()
        unique = list(todo)
        fresh = []
        for text, verdict in zip(unique, decide(unique), strict=True):
            for i in todo[text]:
                verdicts[i] = verdict
            if cache is not None and not verdict.failed:
                fresh.append((keys[todo[text][0]], verdict))
        if fresh:
            assert cache is not None
            cache.put_many(fresh)
    return [v for v in verdicts if v is not None]


def verdict_from_score(
    judge_id: str, score: float, threshold: float, *, scale: float = 1.0, label: str = "score"
) -> Verdict:
    """Approve when ``score > threshold``; ``p_acceptable = sigmoid((score - threshold) /
    scale)``; a non-finite score gives a failed verdict (never an approval).

    Example:
        >>> v = verdict_from_score("j", 1.5, 0.0, label="channel")
        >>> v.approved, round(v.p_acceptable, 3), v.reason
        (True, 0.818, 'channel score +1.500 vs threshold +0.000')
        >>> verdict_from_score("j", float("nan"), 0.0).outcome
        'failed'
    """
    if not math.isfinite(score):
        return failed_verdict(judge_id, f"non-finite score {score!r}")
    z = (score - threshold) / scale
    p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return Verdict(
        approved=score - threshold > 0,
        p_acceptable=p,
        judge_id=judge_id,
        reason=f"{label} score {score:+.3f} vs threshold {threshold:+.3f}",
    )


def read_cache_stats(judge: object) -> tuple[float, float] | None:
    """``(hits, lookups)`` from a judge's cache counters, if it exposes something usable.

    Reads ``judge.cache_stats`` (a mapping or an object with ``hits`` and ``misses`` or
    ``lookups``, or a method returning one), else ``judge.cache`` (e.g. the LLM judge's
    :class:`~consent_gym.judges.cache.VerdictCache`, which counts ``hits`` and
    ``misses``); anything else gives ``None`` (no cache).

    Example:
        >>> class Cached:
        ...     cache_stats = {"hits": 3, "misses": 1}
        >>> read_cache_stats(Cached()), read_cache_stats(object())
        ((3.0, 4.0), None)
    """
    try:
        stats = getattr(judge, "cache_stats", None)
        if callable(stats):
            stats = stats()
        if stats is None:
            stats = getattr(judge, "cache", None)
        if stats is None:
            return None

        def get(name: str) -> Any:
            if isinstance(stats, Mapping):
                return stats.get(name)
            return getattr(stats, name, None)

        hits = get("hits")
        misses, lookups = get("misses"), get("lookups")
        if hits is None or (misses is None and lookups is None):
            return None
        total = float(lookups) if lookups is not None else float(hits) + float(misses)
        return float(hits), total
    except Exception:  # statistics must never break training
        return None
