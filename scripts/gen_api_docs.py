"""Write docs/api.md from the public names' signatures and docstrings.

Run: .venv/bin/python scripts/gen_api_docs.py   (tests/test_docs.py checks it is current)
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

MODULES = [
    "consent_gym",
    "consent_gym.judges",
    "consent_gym.judge_registry",
    "consent_gym.render",
    "consent_gym.render.views",
    "consent_gym.sb3",
    "consent_gym.rllib",
    "consent_gym.trl",
    "consent_gym.envs",
    "consent_gym.prediction",
]
OUT = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def signature(obj: object) -> str:
    """The signature without the quotes that postponed annotations leave around types."""
    try:
        text = str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"
    text = re.sub(r": '([^']*)'", r": \1", text)
    return re.sub(r"-> '([^']*)'", r"-> \1", text)


def first_paragraph(doc: str | None) -> str:
    if not doc:
        return "(no docstring)"
    text = inspect.cleandoc(doc)
    return text.split("\n\n", 1)[0].replace("\n", " ")


def describe(name: str, obj: object) -> list[str]:
    lines: list[str] = []
    if inspect.isclass(obj):
        lines.append(f"### `{name}{signature(obj)}`\n")
        lines.append(first_paragraph(obj.__doc__) + "\n")
        methods = [
            (m, f) for m, f in vars(obj).items()
            if not m.startswith("_") and (inspect.isfunction(f) or isinstance(f, property))
        ]
        for m, f in methods:
            if isinstance(f, property):
                lines.append(f"- `{m}` (property): {first_paragraph(f.__doc__)}")
            else:
                lines.append(f"- `{m}{signature(f)}`: {first_paragraph(f.__doc__)}")
        if methods:
            lines.append("")
    elif callable(obj):
        lines.append(f"### `{name}{signature(obj)}`\n")
        lines.append(first_paragraph(obj.__doc__) + "\n")
    else:
        lines.append(f"### `{name}`\n")
        lines.append(f"`{obj!r}`\n" if isinstance(obj, (str, int, float, tuple)) else "")
    return lines


def build() -> str:
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `.venv/bin/python scripts/gen_api_docs.py`; "
        "each entry's full docstring (with a runnable example) is in the source.",
        "",
    ]
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        out.append(f"## `{module_name}`\n")
        out.append(first_paragraph(module.__doc__) + "\n")
        for name in sorted(getattr(module, "__all__", [])):
            if name.startswith("__"):
                continue
            out.extend(describe(name, getattr(module, name)))
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    text = build()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
