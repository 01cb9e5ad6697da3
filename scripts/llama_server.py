"""Start llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) with a
numpy top-k for echoed prompt log-probs.

Usage: ``python scripts/llama_server.py [--exact-topk] SERVER ARGS...`` where SERVER ARGS are
``llama_cpp.server``'s own, e.g. ``--model M.gguf --port 8000 --logits_all true --n_ctx 512``.

Why: llama-cpp-python (0.3.36) answers ``/v1/completions`` with ``echo`` and ``logprobs`` by
ranking the *whole vocabulary* with Python's ``sorted()`` for every prompt token, to list the
top candidates; with Gemma 3's 262,144-token vocabulary that is about a second of Python per
token on this project's CPU (docs/served-judge.md has the figure), so one judge prompt costs
minutes. The served judge reads only each token's own log-prob. This launcher replaces that
ranking inside ``llama_cpp.llama`` by numpy's ``argpartition`` (the top :data:`TOP` candidates,
sorted); every log-prob value the server returns is still computed by the server's own code
(``Llama.logits_to_logprobs``). ``--exact-topk`` runs the server unchanged.
"""

from __future__ import annotations

import builtins
import runpy
import sys
from typing import Any

#: Candidates ranked per token (the ``logprobs`` a request may ask for, at most).
TOP = 64
#: Smaller sequences are ranked by Python's own sort, as the server does.
_MIN_FAST = 4096


class _VocabRanking:
    """``zip(logprobs_row, range(n))`` over a whole vocabulary row, kept as the array."""

    def __init__(self, values: Any) -> None:
        self.values = values

    def __iter__(self) -> Any:
        return builtins.zip(self.values, range(len(self.values)), strict=True)


def install_fast_topk() -> None:
    """Patch ``llama_cpp.llama``'s ``zip``/``sorted`` for vocabulary-sized rankings."""
    import llama_cpp.llama as llama_module
    import numpy as np

    def fast_zip(*iterables: Any, **kwargs: Any) -> Any:
        if (not kwargs and len(iterables) == 2 and isinstance(iterables[0], np.ndarray)
                and iterables[0].ndim == 1 and isinstance(iterables[1], range)
                and len(iterables[0]) == len(iterables[1]) >= _MIN_FAST):
            return _VocabRanking(iterables[0])
        return builtins.zip(*iterables, **kwargs)  # noqa: B905 (the server's own call)

    def fast_sorted(iterable: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
        if isinstance(iterable, _VocabRanking) and key is None and reverse:
            values = iterable.values
            k = min(TOP, len(values))
            top = np.argpartition(-values, k - 1)[:k]
            top = top[np.argsort(-values[top], kind="stable")]
            return [(values[i], int(i)) for i in top]
        return builtins.sorted(iterable, key=key, reverse=reverse)

    llama_module.zip = fast_zip  # type: ignore[attr-defined]
    llama_module.sorted = fast_sorted  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    """Run the server with ``argv`` (default ``sys.argv[1:]``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--exact-topk" in args:
        args.remove("--exact-topk")
    else:
        install_fast_topk()
    sys.argv = ["llama_cpp.server", *args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
