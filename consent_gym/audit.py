"""An append-only JSONL record of every verdict, durable before any update uses it.

Each line is one complete JSON object written with a single ``write()`` on a file opened
with ``O_APPEND``, so lines from several processes (``SubprocVecEnv`` workers) never
interleave and a process killed mid-run leaves only whole lines. :meth:`AuditLog.sync`
flushes and ``fsync``\\ s; consent-gym calls it before a vetted reward reaches a learner.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from consent_gym.judges.base import Verdict


def text_sha256(text: str) -> str:
    """The hex sha256 of ``text`` (UTF-8), used to key verdicts without storing the text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class AuditLog:
    """Appends one JSON line per verdict to ``path``.

    Args:
        path: The log file; parent folders are created. An existing log is appended to,
            never truncated.
        store_text: Also write the episode text itself (always written for flagged
            episodes, which a person must be able to read).

    Example:
        >>> import tempfile, os
        >>> from consent_gym.judges import Verdict
        >>> path = os.path.join(tempfile.mkdtemp(), "audit.jsonl")
        >>> with AuditLog(path) as log:
        ...     _ = log.record(Verdict(False, 0.1, "rule:x"), text="hit a pedestrian",
        ...                    env_id="Demo-v0", episode_index=3)
        >>> [(r["episode_index"], r["outcome"]) for r in read_audit_log(path)]
        [(3, 'vetoed')]
    """

    def __init__(self, path: str | os.PathLike[str], store_text: bool = False) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file path, got {type(path).__name__}.")
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(
                f"{self.path} is a folder; give a file path such as audit.jsonl."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store_text = store_text
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()

    def _reopen_if_forked(self) -> int:
        # A forked child must not share the parent's descriptor position bookkeeping.
        if self._fd is None:
            raise ValueError(f"audit log {self.path} is closed.")
        if os.getpid() != self._pid:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line (not yet fsync'ed: see :meth:`sync`)."""
        fd = self._reopen_if_forked()
        line = json.dumps(record, ensure_ascii=True, allow_nan=False, default=str) + "\n"
        data = line.encode("ascii")
        written = os.write(fd, data)
        if written != len(data):  # pragma: no cover - regular files write fully or raise
            raise OSError(f"short write to audit log {self.path}: {written}/{len(data)} bytes")

    def record(
        self,
        verdict: Verdict,
        *,
        text: str,
        env_id: str = "",
        episode_index: int = -1,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append the verdict about ``text``; returns the record written."""
        entry: dict[str, Any] = {
            "time": time.time(),
            "env_id": env_id,
            "episode_index": int(episode_index),
            "text_sha256": text_sha256(text),
            **verdict.to_dict(),
        }
        if self.store_text or verdict.flagged:
            entry["text"] = text
        if extra:
            collisions = set(extra) & set(entry)
            if collisions:
                raise ValueError(f"extra audit fields {sorted(collisions)} collide with built-ins.")
            entry.update(extra)
        self.write(entry)
        return entry

    def sync(self) -> None:
        """Flush to disk (``fsync``): after this, the records survive a crash."""
        os.fsync(self._reopen_if_forked())

    def close(self) -> None:
        """Sync and close; further writes raise."""
        if self._fd is not None:
            if os.getpid() == self._pid:
                os.fsync(self._fd)
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into SubprocVecEnv workers: the child reopens the same file for append.
        state = self.__dict__.copy()
        state["_fd"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"


def read_audit_log(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of an audit log; a malformed line raises ``ValueError`` with its number."""
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg}).") from exc
