"""The package's shape, checked on its source (AST, nothing is imported or run).

Each rule is its own test, so a new rule is one more function over ``MODULES``:

- no module imports another module's private (``_x``) names;
- judges know text, never the wrapper side: nothing under ``consent_gym/judges`` imports
  ``trajectory``, ``audit``, ``gate``, ``wrapper``, ``vector`` or ``render`` (not even
  lazily inside a function, nor through ``importlib``);
- every renderer lives in ``consent_gym/render/``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("consent_gym", "envs")


@dataclass(frozen=True)
class Module:
    """One source file: its dotted name, its path (relative to the repository) and AST."""

    name: str
    path: str
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package a relative import starts from."""
        return self.name if self.path.endswith("__init__.py") else self.name.rpartition(".")[0]


def _load_modules() -> list[Module]:
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
            modules.append(Module(".".join(parts), rel.as_posix(), tree))
    return modules


MODULES = _load_modules()
MODULE_NAMES = {m.name for m in MODULES}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imported_from(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module name of a ``from ... import`` (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def where(module: Module, node: ast.AST) -> str:
    return f"{module.path}:{getattr(node, 'lineno', '?')}"


def imports(module: Module) -> list[tuple[ast.AST, str]]:
    """Every module ``module`` imports, anywhere in it (also inside functions, and
    ``importlib.import_module("...")`` with a literal name), with the importing node.

    ``from package import name`` counts as importing ``package.name`` when that is a
    module of this repository, else ``package``.
    """
    found: list[tuple[ast.AST, str]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = imported_from(module, node)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.append((node, sub if sub in MODULE_NAMES else source))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.append((node, first.value))
    return found


def reexports(package: str) -> dict[str, str]:
    """Names a package's ``__init__`` imports from its own modules: name -> module."""
    init = next((m for m in MODULES if m.name == package), None)
    if init is None:
        return {}
    out = {}
    for node in init.tree.body:
        if isinstance(node, ast.ImportFrom):
            source = imported_from(init, node)
            for alias in node.names:
                out[alias.asname or alias.name] = source
    return out


# --------------------------------------------------------------------------- rules
def test_the_rules_see_the_whole_package():
    """Guards the other tests against passing because they read nothing."""
    names = {m.name for m in MODULES}
    assert {"consent_gym.judges.llm", "consent_gym.render.delivery", "envs"} <= names
    assert len(MODULES) > 40


def test_no_module_imports_another_modules_private_names():
    """``from x import _y`` (or ``x._y`` on an imported module or class) couples a module to
    another's internals: give the name a public spelling in the module that owns it."""
    problems = []
    for module in MODULES:
        imported: dict[str, str] = {}  # local name -> where it comes from
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                source = imported_from(module, node)
                if source.split(".")[0] not in PACKAGES:
                    continue
                for alias in node.names:
                    if is_private(alias.name):
                        problems.append(f"{where(module, node)} imports {source}.{alias.name}")
                    imported[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] not in PACKAGES:
                        continue
                    if any(is_private(part) for part in alias.name.split(".")):
                        problems.append(f"{where(module, node)} imports {alias.name}")
                    if alias.asname:
                        imported[alias.asname] = alias.name
        for node in ast.walk(module.tree):
            if (isinstance(node, ast.Attribute) and is_private(node.attr)
                    and isinstance(node.value, ast.Name) and node.value.id in imported):
                problems.append(
                    f"{where(module, node)} uses {imported[node.value.id]}.{node.attr}"
                )
    assert not problems, (
        "modules use other modules' private names (make them public where they are "
        "defined, or move the code that needs them there):\n  " + "\n  ".join(problems)
    )


#: What judges must not import: they know text, never episodes, wrappers or audit logs.
WRAPPER_SIDE = tuple(
    f"consent_gym.{name}" for name in ("trajectory", "audit", "gate", "wrapper", "vector",
                                       "render")
)


def test_judges_import_nothing_from_the_wrapper_side():
    """Judges take text and return verdicts; whoever holds the episodes renders them
    (``consent_gym.render``) and records the verdicts (``consent_gym.audit``)."""
    root_names = reexports("consent_gym")
    problems = []
    for module in MODULES:
        if not module.name.startswith("consent_gym.judges"):
            continue
        for node, name in imports(module):
            if name == "consent_gym" and isinstance(node, ast.ImportFrom):
                # from consent_gym import X: X comes from wherever the root took it.
                sources = [root_names.get(a.name, f"consent_gym.{a.name}") for a in node.names]
            else:
                sources = [name]
            for source in sources:
                problem = f"{where(module, node)} imports {source}"
                wrapper_side = any(source == bad or source.startswith(bad + ".")
                                   for bad in WRAPPER_SIDE)
                if wrapper_side and problem not in problems:
                    problems.append(problem)
    assert not problems, (
        "consent_gym/judges must not import the wrapper side "
        f"({', '.join(WRAPPER_SIDE)}); pass the judge text instead:\n  " + "\n  ".join(problems)
    )


def test_renderers_live_in_render():
    """Every ``class ...Renderer`` is in ``consent_gym/render/``, where renderers are found
    and registered."""
    problems = [
        f"{where(module, node)} defines {node.name}"
        for module in MODULES
        if not module.name.startswith("consent_gym.render")
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Renderer")
    ]
    assert not problems, (
        "renderers belong in consent_gym/render/ (one module per world, registered "
        "there):\n  " + "\n  ".join(problems)
    )


def calls_named(module: Module, name: str) -> list[ast.Call]:
    """Calls of ``name(...)`` or ``x.name(...)`` in a module."""
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                out.append(node)
    return out


LEARNER_SIDE = ("consent_gym.sb3", "consent_gym.rllib", "consent_gym.trl",
                "consent_gym.rollout", "consent_gym.wrapper", "consent_gym.vector",
                "consent_gym.recorder", "consent_gym.experiments", "consent_gym.benchmarks")


def test_learners_never_call_back_into_envs():
    """Whatever a learner needs to judge arrives with the step (DESIGN.md)."""
    problems = [
        f"{where(module, node)} calls {name}"
        for module in MODULES
        if module.name.startswith(LEARNER_SIDE)
        for name in ("env_method", "get_attr")
        for node in calls_named(module, name)
    ]
    assert not problems, "learner integrations must not call back into envs:\n  " + (
        "\n  ".join(problems))


def test_only_the_decision_step_asks_judges_and_writes_the_audit_log():
    """judge_texts and AuditLog(...) on the learner/wrapper side appear only in gate.py."""
    problems = [
        f"{where(module, node)} calls {name}"
        for module in MODULES
        if module.name.startswith(LEARNER_SIDE)
        for name in ("judge_texts", "AuditLog")
        for node in calls_named(module, name)
    ]
    assert not problems, "ask judges through consent_gym.gate.decide:\n  " + (
        "\n  ".join(problems))
