"""A persistent verdict cache: repeated episodes cost one dict lookup.

Keys are ``sha256(judge_id + prompt + text)``, so a verdict is only reused by the very same
frozen judge (weights, prompt and threshold all enter ``judge_id`` / ``prompt``). Lookups go to
an in-memory dict first; with a ``path`` every verdict is also written to sqlite and read back
on the next run.

Example:
    >>> from consent_gym.judges.base import Verdict
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
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from consent_gym.judges.base import Verdict

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
        """The cached verdict for ``key``, or ``None``."""
        verdict = self._memory.get(key)
        if verdict is not None:
            self.hits += 1
            return verdict
        if self._db is not None:
            with self._lock:
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
            with self._lock:
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
