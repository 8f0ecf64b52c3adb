"""The source code a network needs, gathered from nas's own modules: no hand copy to drift.

`gather(roots)` starts from a few definitions (the model class, the spec reader, the block
classes a spec uses), follows every name their code refers to through nas's modules (imports
and re-exports resolved on the syntax tree, so nothing runs), and returns the definitions
verbatim, ordered so that each one's definition-time needs (base classes, decorators and what
they call, default values, constants) come first, plus the imports of other libraries (torch,
timm, the standard library) they use. Names that only type hints mention are not followed.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas._core import NasError

Ref = tuple[str, str]  # (module, top-level name)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class ExportError(NasError, RuntimeError):
    """nas's source cannot be gathered into one module (two definitions share a name...)."""


@dataclass
class _Module:
    name: str
    path: Path
    text: str
    defs: dict[str, ast.stmt] = field(default_factory=dict)  # top-level definitions
    imports: dict[str, tuple[ast.stmt, str]] = field(default_factory=dict)  # local -> (node, name)


@dataclass(frozen=True)
class Gathered:
    imports: list[str]  # import statements of other libraries, one per line
    parts: list[tuple[str, str, str]]  # (module, name, source), in definition order


def gather(roots: list[Ref], *, package: str = "nas") -> Gathered:
    modules: dict[str, _Module] = {}
    needs: dict[Ref, tuple[set[Ref], set[Ref]]] = {}  # ref -> (eager, lazy) nas deps
    external: dict[str, str] = {}  # local name -> import statement
    todo = [_resolve(modules, m, n, package) for m, n in roots]
    while todo:
        ref = todo.pop()
        if ref is None or ref in needs:
            continue
        node = modules[ref[0]].defs[ref[1]]
        eager, lazy = _names(node)
        deps: tuple[set[Ref], set[Ref]] = (set(), set())
        for kind, names in enumerate((eager, lazy)):
            for name in names:
                target = _resolve(modules, ref[0], name, package, external=external)
                if target is not None and target != ref:
                    deps[kind].add(target)
                    todo.append(target)
        needs[ref] = deps
    _check_unique(needs, external)
    order = _definition_order(needs, key=lambda r: _reading_order(r, modules[r[0]].defs[r[1]]))
    return Gathered(
        imports=_import_block(external.values()),
        parts=[(m, n, _source(modules[m], modules[m].defs[n])) for m, n in order],
    )


def _load(modules: dict[str, _Module], name: str) -> _Module:
    if name not in modules:
        path = Path(importlib.import_module(name).__file__)
        text = path.read_text()
        mod = _Module(name, path, text)
        for node in ast.parse(text).body:
            if isinstance(node, _DEFS):
                mod.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        mod.defs[t.id] = node
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    mod.imports[local] = (node, alias.name)
        modules[name] = mod
    return modules[name]


def _resolve(
    modules: dict[str, _Module],
    module: str,
    name: str,
    package: str,
    *,
    external: dict[str, str] | None = None,
) -> Ref | None:
    """Where `name`, as module `module` sees it, is defined: a nas (module, name), or None for
    a builtin, a local or another library's name (whose import goes to `external`)."""
    mod = _load(modules, module)
    if name in mod.defs:
        return module, name
    if name not in mod.imports:
        return None
    node, original = mod.imports[name]
    if isinstance(node, ast.ImportFrom) and node.module is None:
        raise ExportError(f"{module} refers to a module object, {name!r}; import names instead")
    source = _absolute(node, module, mod.path) if isinstance(node, ast.ImportFrom) else None
    if source is not None and source.split(".")[0] == package:
        return _resolve(modules, source, original, package, external=external)
    if isinstance(node, ast.Import) and original.split(".")[0] == package:
        raise ExportError(f"{module} uses `import {original}`; import names from it instead")
    if external is not None:
        statement = _import_line(node, name, original)
        if external.setdefault(name, statement) != statement:
            raise ExportError(f"{name!r} is imported two ways: {external[name]!r}, {statement!r}")
    return None


def _absolute(node: ast.ImportFrom, module: str, path: Path) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if path.name == "__init__.py" else parts[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _import_line(node: ast.stmt, local: str, original: str) -> str:
    if isinstance(node, ast.Import):
        return f"import {original}" + (f" as {local}" if local != original.split(".")[0] else "")
    alias = f" as {local}" if local != original else ""
    return f"from {node.module} import {original}{alias}"


def _names(node: ast.stmt) -> tuple[set[str], set[str]]:
    """Names a definition reads when it is defined (eager) and only when it runs (lazy);
    annotations are neither (they stay strings under `from __future__ import annotations`)."""
    eager: set[str] = set()
    lazy: set[str] = set()

    def visit(n: ast.AST, into: set[str]) -> None:
        if isinstance(n, ast.Name):
            into.add(n.id)
            return
        if isinstance(n, ast.arg):
            return  # its annotation only
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(n, "decorator_list", []):
                visit(d, into)
            for d in [*n.args.defaults, *(k for k in n.args.kw_defaults if k is not None)]:
                visit(d, into)
            for b in n.body if isinstance(n.body, list) else [n.body]:
                visit(b, lazy)
            return
        if isinstance(n, ast.AnnAssign):
            if n.value is not None:
                visit(n.value, into)
            return
        for child in ast.iter_child_nodes(n):
            visit(child, into)

    visit(node, eager)
    return eager, lazy - eager


def _definition_order(
    needs: dict[Ref, tuple[set[Ref], set[Ref]]], *, key: Callable[[Ref], Any]
) -> list[Ref]:
    """Each definition after everything it needs when defined: its eager deps and, since a
    decorator or a default may call a function, everything those reach."""
    reach: dict[Ref, set[Ref]] = {}

    def reachable(ref: Ref) -> set[Ref]:
        if ref not in reach:
            reach[ref] = set()
            eager, lazy = needs[ref]
            for dep in eager | lazy:
                reach[ref] |= {dep} | reachable(dep)
        return reach[ref]

    before = {ref: set().union(*[{d} | reachable(d) for d in needs[ref][0]]) for ref in needs}
    order: list[Ref] = []
    placed: set[Ref] = set()
    pending = sorted(needs, key=key)
    while pending:
        ready = [r for r in pending if before[r] - {r} <= placed]
        if not ready:
            raise ExportError(f"definitions need each other when defined: {pending[:4]}")
        order.append(ready[0])
        placed.add(ready[0])
        pending.remove(ready[0])
    return order


def _reading_order(ref: Ref, node: ast.stmt) -> tuple[int, str, int]:
    """Layer by layer (space, blocks, models), each module top-down, as in the source tree."""
    layers = ("space", "blocks", "models")
    parts = ref[0].split(".")
    layer = layers.index(parts[1]) if len(parts) > 1 and parts[1] in layers else len(layers)
    return layer, ref[0], node.lineno


def _import_block(statements: Iterable[str]) -> list[str]:
    """`from m import a, b` merged per module; the standard library first, then the rest."""
    plain: set[str] = set()
    names: dict[str, set[str]] = {}
    for line in statements:
        if line.startswith("from "):
            module, _, name = line.removeprefix("from ").partition(" import ")
            names.setdefault(module, set()).add(name)
        else:
            plain.add(line)
    lines = [*plain, *(f"from {m} import {', '.join(sorted(n))}" for m, n in names.items())]

    def group(line: str) -> tuple[bool, str, str]:
        top = line.split()[1].split(".")[0]
        return top not in sys.stdlib_module_names, top, line

    return sorted(lines, key=group)


def _check_unique(needs: dict[Ref, object], external: dict[str, str]) -> None:
    """The gathered definitions share one namespace: no name may be defined twice."""
    owners: dict[str, list[str]] = {}
    for module, name in needs:
        owners.setdefault(name, []).append(module)
    for name, where in owners.items():
        if len(where) > 1 or name in external:
            also = [*where[1:], *([external[name]] if name in external else [])]
            raise ExportError(f"two definitions named {name!r}: in {where[0]} and {also[0]}")


def _source(mod: _Module, node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    lines = mod.text.splitlines()[first - 1 : node.end_lineno]
    return "\n".join(lines)
