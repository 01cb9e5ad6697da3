"""A behavioural fingerprint for a judge whose weights cannot be read: a lock of canary log-probs.

No inference server exposes a hash of its weights (vLLM's ``system_fingerprint`` hashes its
configuration, llama.cpp's names its build), and weights can change under the same model
name (runtime LoRA loading, weight-update endpoints). So a served judge is frozen by what it
*does*: :class:`JudgeLock` records the log-probs the server gives a fixed set of canary
texts (:func:`canary_texts`: plain texts and some of the judge's own prompts with an
episode in them), with a tolerance calibrated on the same server, and :func:`compare_readings`
says what differs when the canaries are read again. A served judge re-reads them at start
and every N batches; a difference beyond the tolerance raises
:class:`~consent_gym.judges.FrozenJudgeError`. Precedent: Gao, Liang and Guestrin, "Model
Equality Testing: Which Model Is This API Serving?" (2024).

Two kinds of reading (:data:`READING_KINDS`):

- ``"prompt"``: the log-prob of each token of the canary text (``echo`` with ``logprobs`` on
  ``/v1/completions``), for servers that score prompts;
- ``"next_token"``: the top-k log-probs of the first token a chat completion would write
  after the canary (``logprobs`` + ``top_logprobs``), for chat-only servers.

This module compares and stores readings; it never talks to a server (the judge reads).

Example:
    >>> a = CanaryReading("hi there", ("hi", " there"), (-3.0, -1.5))
    >>> lock = JudgeLock(model="m", kind="prompt", readings=(a,), tolerance=0.01)
    >>> compare_readings(lock, [CanaryReading("hi there", ("hi", " there"), (-3.0, -1.504))])
    []
    >>> changed = CanaryReading("hi there", ("hi", " there"), (-3.0, -1.6))
    >>> print(compare_readings(lock, [changed])[0])  # doctest: +NORMALIZE_WHITESPACE
    canary 0 token 1 (' there'): log-prob -1.60000 vs locked -1.50000
    (|diff| 0.1 > tolerance 0.01)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CANARY_EPISODES",
    "LOCK_FORMAT",
    "READING_KINDS",
    "TOLERANCE_FACTOR",
    "TOLERANCE_FLOOR",
    "CanaryReading",
    "JudgeLock",
    "calibrate_tolerance",
    "canary_texts",
    "compare_readings",
]

LOCK_FORMAT = "consent-gym-judge-lock/1"
READING_KINDS: tuple[str, ...] = ("prompt", "next_token")
#: The tolerance is at least this (nats per token), even on a server that measured no
#: nondeterminism at all (a restart with another thread count shifts the last digits).
TOLERANCE_FLOOR = 2e-3
#: The tolerance is this many times the largest difference measured between repeats.
TOLERANCE_FACTOR = 4.0
#: In a ``"next_token"`` reading, how many of the locked top tokens must come back.
NEXT_TOKEN_CHECKED = 5

#: Plain canary texts: ordinary prose, numbers, code and a list; none is an episode.
PLAIN_CANARIES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog while the farmer counts his sheep.",
    "In 1969, 3 astronauts flew 384,400 km to the Moon and 2 of them walked on it.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "Shopping list: eggs, flour, two lemons, a bag of rice and green tea.",
)
#: Episodes put into the judge's own prompts (one acceptable, one harmful): the canaries
#: then exercise exactly the computation that verdicts come from.
CANARY_EPISODES: tuple[str, ...] = (
    "The robot carried the box to the shelf, put it down gently and went back to charge.",
    "The drone flew low over the crowd and knocked a child off her bicycle.",
)


def canary_texts(judge_prompts: Sequence[str] = ()) -> list[str]:
    """The canaries: :data:`PLAIN_CANARIES`, then each of ``judge_prompts`` (complete
    prompts the judge sends, built around :data:`CANARY_EPISODES`).

    Example:
        >>> len(canary_texts()), canary_texts(["a judge prompt"])[-1]
        (4, 'a judge prompt')
    """
    return [*PLAIN_CANARIES, *judge_prompts]


@dataclass(frozen=True)
class CanaryReading:
    """What the server said about one canary text.

    Attributes:
        text: The canary text.
        tokens: ``"prompt"`` reading: the text's tokens (after the first); ``"next_token"``:
            the top-k candidate next tokens, most likely first.
        logprobs: One log-prob per token, same order.
    """

    text: str
    tokens: tuple[str, ...]
    logprobs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.logprobs):
            raise ValueError(
                f"a canary reading needs one log-prob per token, got {len(self.logprobs)} "
                f"for {len(self.tokens)} tokens."
            )
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in self.logprobs):
            raise ValueError("a canary reading's log-probs must be finite numbers.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"text": self.text, "tokens": list(self.tokens), "logprobs": list(self.logprobs)}

    @classmethod
    def from_dict(cls, row: Any) -> CanaryReading:
        """The reading a :meth:`to_dict` row describes (``ValueError`` if malformed)."""
        if not isinstance(row, dict) or not {"text", "tokens", "logprobs"} <= set(row):
            raise ValueError(f"a canary reading needs text, tokens and logprobs, got {row!r:.80}")
        return cls(str(row["text"]), tuple(str(t) for t in row["tokens"]),
                   tuple(float(v) for v in row["logprobs"]))


@dataclass(frozen=True)
class JudgeLock:
    """The recorded behaviour of a served judge's model (see the module doc).

    Attributes:
        model: The model name the server was asked for.
        kind: ``"prompt"`` or ``"next_token"`` (:data:`READING_KINDS`).
        readings: One :class:`CanaryReading` per canary text.
        tolerance: Largest per-token |log-prob difference| that still counts as the same
            model (nats).
        calibration: How the tolerance was measured (repeats, largest difference seen).
        created: ISO time the lock was written.
        server: Where the lock was recorded (for people; the check never depends on it).
    """

    model: str
    kind: str
    readings: tuple[CanaryReading, ...]
    tolerance: float
    calibration: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    server: str = ""

    def __post_init__(self) -> None:
        if self.kind not in READING_KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {READING_KINDS}.")
        if not self.readings:
            raise ValueError("a judge lock needs at least one canary reading.")
        if not (isinstance(self.tolerance, (int, float)) and math.isfinite(self.tolerance)
                and self.tolerance > 0):
            raise ValueError(f"tolerance must be a positive number, got {self.tolerance!r}.")

    @property
    def texts(self) -> list[str]:
        """The canary texts, in order."""
        return [r.text for r in self.readings]

    @property
    def digest(self) -> str:
        """sha256 over the model name, kind, texts and tokens and the log-probs rounded to
        the tolerance's order (names the judge's behaviour in its id)."""
        digits = max(0, -math.floor(math.log10(self.tolerance)))
        body = json.dumps(
            [self.model, self.kind,
             [[r.text, list(r.tokens), [round(v, digits) for v in r.logprobs]]
              for r in self.readings]],
            sort_keys=True,
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON the lock file holds."""
        return {
            "format": LOCK_FORMAT, "model": self.model, "kind": self.kind,
            "tolerance": self.tolerance, "calibration": self.calibration,
            "created": self.created, "server": self.server, "digest": self.digest,
            "readings": [r.to_dict() for r in self.readings],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the lock as JSON to ``path`` (atomically); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> JudgeLock:
        """Read a lock file written by :meth:`save` (``consent-gym freeze-judge``).

        Raises:
            FileNotFoundError: no such file (the message says how to create one).
            ValueError: not a judge lock, or its digest does not match its readings (the
                file was edited).
        """
        target = Path(path)
        if not target.is_file():
            raise FileNotFoundError(
                f"judge lock {str(target)!r} does not exist; create it with consent-gym "
                "freeze-judge --base-url URL --model NAME --out judge.lock.json"
            )
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"judge lock {str(target)!r} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT:
            raise ValueError(
                f"{str(target)!r} is not a consent-gym judge lock (format {LOCK_FORMAT!r})."
            )
        lock = cls(
            model=str(data["model"]), kind=str(data["kind"]),
            readings=tuple(CanaryReading.from_dict(r) for r in data["readings"]),
            tolerance=float(data["tolerance"]), calibration=dict(data.get("calibration", {})),
            created=str(data.get("created", "")), server=str(data.get("server", "")),
        )
        if data.get("digest") != lock.digest:
            raise ValueError(
                f"judge lock {str(target)!r}: its digest does not match its readings (the "
                "file was edited); re-create it with consent-gym freeze-judge."
            )
        return lock


def _differences(a: CanaryReading, b: CanaryReading, kind: str) -> list[tuple[int, str, float]]:
    """``(position, token, |diff|)`` for the tokens both readings hold; a ValueError when
    they cannot be compared (other tokens)."""
    if kind == "prompt":
        if a.tokens != b.tokens:
            raise ValueError("the server tokenised the canary differently")
        return [(i, t, abs(x - y))
                for i, (t, x, y) in enumerate(zip(a.tokens, a.logprobs, b.logprobs, strict=True))]
    new = dict(zip(b.tokens, b.logprobs, strict=True))
    out = []
    for i, (t, x) in enumerate(zip(a.tokens[:NEXT_TOKEN_CHECKED],
                                   a.logprobs[:NEXT_TOKEN_CHECKED], strict=True)):
        if t not in new:
            raise ValueError(f"the locked candidate {t!r} is no longer among the top tokens")
        out.append((i, t, abs(x - new[t])))
    return out


def compare_readings(lock: JudgeLock, readings: Sequence[CanaryReading]) -> list[str]:
    """What differs between ``lock`` and fresh ``readings`` of its canaries (empty: the
    same model, within the lock's tolerance). One line per differing canary.
    """
    if [r.text for r in readings] != lock.texts:
        return [f"the readings are of other canary texts ({len(readings)} read, "
                f"{len(lock.readings)} locked)"]
    problems = []
    for k, (old, new) in enumerate(zip(lock.readings, readings, strict=True)):
        try:
            diffs = _differences(old, new, lock.kind)
        except ValueError as exc:
            problems.append(f"canary {k}: {exc}")
            continue
        if not diffs:
            continue
        i, token, worst = max(diffs, key=lambda d: d[2])
        if worst > lock.tolerance:
            new_value = dict(zip(new.tokens, new.logprobs, strict=True))[token] if (
                lock.kind == "next_token") else new.logprobs[i]
            problems.append(
                f"canary {k} token {i} ({token!r}): log-prob {new_value:.5f} vs locked "
                f"{old.logprobs[i]:.5f} (|diff| {worst:.3g} > tolerance {lock.tolerance:.3g})"
            )
    return problems


def calibrate_tolerance(
    repeats: Sequence[Sequence[CanaryReading]], kind: str
) -> tuple[float, dict[str, Any]]:
    """The tolerance for canaries read several times on one server: the largest per-token
    difference between the first reading and any repeat, times :data:`TOLERANCE_FACTOR`,
    at least :data:`TOLERANCE_FLOOR`. Returns ``(tolerance, calibration record)``.

    Raises:
        ValueError: fewer than two repeats, or repeats that disagree on the tokens (a server
            that cannot give the same answer twice cannot be locked).

    Example:
        >>> r = [CanaryReading("a", ("a",), (-1.0,)), CanaryReading("a", ("a",), (-1.01,))]
        >>> tol, record = calibrate_tolerance([[r[0]], [r[1]]], "prompt")
        >>> round(tol, 3), round(record["max_abs_diff"], 3)
        (0.04, 0.01)
    """
    if len(repeats) < 2:
        raise ValueError("calibration needs the canaries read at least twice.")
    worst = 0.0
    first = repeats[0]
    for later in repeats[1:]:
        for a, b in zip(first, later, strict=True):
            try:
                diffs = _differences(a, b, kind)
            except ValueError as exc:
                raise ValueError(
                    f"the server answered the canary {a.text[:40]!r} differently between two "
                    f"readings ({exc}); it is not deterministic enough to lock."
                ) from exc
            worst = max([worst, *(d for _, _, d in diffs)])
    tolerance = max(TOLERANCE_FLOOR, TOLERANCE_FACTOR * worst)
    return tolerance, {"repeats": len(repeats), "max_abs_diff": worst,
                       "factor": TOLERANCE_FACTOR, "floor": TOLERANCE_FLOOR}


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
