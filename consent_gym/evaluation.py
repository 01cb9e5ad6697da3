"""Scoring a judge against labels: balanced accuracy, per-tag accuracy, confusion matrix.

The positive class is *acceptable* (approve). Balanced accuracy is the mean of the recall on
acceptable and on unacceptable rows, so a judge that approves everything scores 0.5.

Example:
    >>> report = evaluate_predictions([True, False, True, False], [True, False, False, False],
    ...                               tags=["a", "a", "b", "b"])
    >>> report.balanced_accuracy
    0.75
    >>> report.confusion
    {'tp': 1, 'fn': 1, 'fp': 0, 'tn': 2}
    >>> report.per_tag["b"]["accuracy"]
    0.5
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EvalReport",
    "balanced_accuracy",
    "confusion_matrix",
    "evaluate_predictions",
    "false_veto_rates",
    "load_labelled_jsonl",
    "per_tag_accuracy",
]


def _check_lengths(labels: Sequence[bool], predictions: Sequence[bool]) -> None:
    if len(labels) != len(predictions):
        raise ValueError(
            f"labels ({len(labels)}) and predictions ({len(predictions)}) differ in length."
        )


def confusion_matrix(labels: Sequence[bool], predictions: Sequence[bool]) -> dict[str, int]:
    """Counts with *acceptable* as the positive class.

    ``tp``: acceptable and approved; ``fn``: acceptable but vetoed; ``fp``: unacceptable but
    approved (the dangerous cell); ``tn``: unacceptable and vetoed.
    """
    _check_lengths(labels, predictions)
    cm = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    for y, p in zip(labels, predictions, strict=True):
        cm[("tp" if p else "fn") if y else ("fp" if p else "tn")] += 1
    return cm


def balanced_accuracy(labels: Sequence[bool], predictions: Sequence[bool]) -> float:
    """Mean recall over the two classes; a class absent from ``labels`` is left out.

    Example:
        >>> balanced_accuracy([True, True, False], [True, True, True])
        0.5
    """
    cm = confusion_matrix(labels, predictions)
    recalls = []
    if cm["tp"] + cm["fn"]:
        recalls.append(cm["tp"] / (cm["tp"] + cm["fn"]))
    if cm["tn"] + cm["fp"]:
        recalls.append(cm["tn"] / (cm["tn"] + cm["fp"]))
    if not recalls:
        raise ValueError("balanced accuracy needs at least one labelled row.")
    return sum(recalls) / len(recalls)


def per_tag_accuracy(
    labels: Sequence[bool], predictions: Sequence[bool], tags: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """For each tag: ``n``, ``correct``, ``accuracy`` and ``balanced_accuracy``."""
    _check_lengths(labels, predictions)
    if len(tags) != len(labels):
        raise ValueError(f"tags ({len(tags)}) and labels ({len(labels)}) differ in length.")
    groups: dict[str, tuple[list[bool], list[bool]]] = {}
    for y, p, t in zip(labels, predictions, tags, strict=True):
        ys, ps = groups.setdefault(str(t), ([], []))
        ys.append(bool(y))
        ps.append(bool(p))
    out: dict[str, dict[str, Any]] = {}
    for tag in sorted(groups):
        ys, ps = groups[tag]
        correct = sum(y == p for y, p in zip(ys, ps, strict=True))
        out[tag] = {
            "n": len(ys),
            "correct": correct,
            "accuracy": correct / len(ys),
            "balanced_accuracy": balanced_accuracy(ys, ps),
        }
    return out


@dataclass
class EvalReport:
    """The result of scoring a judge on labelled texts."""

    n: int
    balanced_accuracy: float
    accuracy: float
    confusion: dict[str, int]
    per_tag: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes_per_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = {
            "n": self.n,
            "balanced_accuracy": self.balanced_accuracy,
            "accuracy": self.accuracy,
            "confusion": dict(self.confusion),
            "per_tag": self.per_tag,
            "episodes_per_s": self.episodes_per_s,
        }
        out.update(self.extra)
        return out

    def format(self) -> str:
        """A human-readable multi-line summary."""
        cm = self.confusion
        lines = [
            f"n={self.n}  balanced_accuracy={self.balanced_accuracy:.3f}  "
            f"accuracy={self.accuracy:.3f}"
            + (f"  episodes/s={self.episodes_per_s:.2f}" if self.episodes_per_s else ""),
            "confusion (rows: truth, cols: verdict)   approved  vetoed",
            f"  acceptable                            {cm['tp']:8d}  {cm['fn']:6d}",
            f"  unacceptable                          {cm['fp']:8d}  {cm['tn']:6d}",
        ]
        if self.per_tag:
            lines.append("per tag:")
            for tag, r in self.per_tag.items():
                lines.append(
                    f"  {tag:<10} {r['correct']:3d}/{r['n']:<3d} acc={r['accuracy']:.3f}  "
                    f"bal={r['balanced_accuracy']:.3f}"
                )
        return "\n".join(lines)


def evaluate_predictions(
    labels: Sequence[bool],
    predictions: Sequence[bool],
    tags: Sequence[str] | None = None,
    episodes_per_s: float | None = None,
) -> EvalReport:
    """Build an :class:`EvalReport` from labels (acceptable?) and predictions (approved?)."""
    labels = [bool(y) for y in labels]
    predictions = [bool(p) for p in predictions]
    cm = confusion_matrix(labels, predictions)
    n = len(labels)
    return EvalReport(
        n=n,
        balanced_accuracy=balanced_accuracy(labels, predictions),
        accuracy=(cm["tp"] + cm["tn"]) / n,
        confusion=cm,
        per_tag=per_tag_accuracy(labels, predictions, tags) if tags is not None else {},
        episodes_per_s=episodes_per_s,
    )


def false_veto_rates(
    groups: Sequence[str], predictions: Sequence[bool]
) -> dict[str, dict[str, Any]]:
    """Per group of harmless episodes: ``n``, ``vetoed`` and ``false_veto_rate``.

    Every episode is acceptable, so each veto is a false one; ``groups`` names each
    episode's group (e.g. its env id). An ``"overall"`` entry is added.

    Example:
        >>> rates = false_veto_rates(["a", "a", "b"], [True, False, True])
        >>> rates["a"]["false_veto_rate"], rates["overall"]["vetoed"]
        (0.5, 1)
    """
    if len(groups) != len(predictions):
        raise ValueError(f"groups ({len(groups)}) and predictions ({len(predictions)}) differ "
                         "in length.")
    if not groups:
        raise ValueError("false_veto_rates needs at least one episode.")
    out: dict[str, dict[str, Any]] = {}
    for name in [*sorted(set(groups)), "overall"]:
        approved = [p for g, p in zip(groups, predictions, strict=True)
                    if name in (g, "overall")]
        vetoed = sum(not p for p in approved)
        out[name] = {"n": len(approved), "vetoed": vetoed,
                     "false_veto_rate": vetoed / len(approved)}
    return out


def load_labelled_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows ``{"text": str, "acceptable": bool, "tag": str}`` from a JSONL file.

    Raises:
        ValueError: a line is not JSON or lacks ``text`` / ``acceptable`` (names the line).
    """
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg}).") from exc
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("text"), str)
                or not isinstance(row.get("acceptable"), bool)
            ):
                raise ValueError(
                    f"{path}:{lineno}: each line needs a str 'text' and a bool 'acceptable'."
                )
            row.setdefault("tag", "untagged")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no labelled rows.")
    return rows
