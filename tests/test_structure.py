"""The design as the tree shows it: packages import only the layers below them, nas.search has
no import cycle, and the torch- and Optuna-free paths stay free of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the order imports flow in: a package may import those of lower rank (and itself)
LAYERS = {
    "_core": -1,  # errors, atomic files, the lock: importable by all, importing no nas package
    "space": 0,
    "blocks": 1,
    "models": 2,
    "cost": 3,
    "report": 4,
    "data": 5,
    "train": 6,
    "supernet": 6.5,  # weight sharing: on train (data, checkpoints), below evaluate (its fidelity)
    "evaluate": 7,
    "search": 8,
    "export": 8,
    "studies": 9,
    "cli": 10,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "nas").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every nas module `name` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return {m for m in found if m in modules and m != name}


def test_packages_import_only_the_layers_below_them():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        layer = name.split(".")[1] if name.count(".") else None
        if layer not in LAYERS:
            continue
        for target in _imports(name, path, modules):
            other = target.split(".")[1] if target.count(".") else None
            if other in LAYERS and other != layer and LAYERS[other] >= LAYERS[layer]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_nas_search_has_no_import_cycle():
    modules = _modules()
    graph = {
        m: {t for t in _imports(m, p, modules) if t.startswith("nas.search")}
        for m, p in modules.items()
        if m.startswith("nas.search")
    }
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(t) :], t]))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def _loaded_after(code: str) -> set[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines()[-1].split())  # the last line: after any output


def test_the_feasible_region_imports_neither_torch_nor_optuna():
    loaded = _loaded_after("import nas.search.feasible")
    assert "nas" in loaded and not loaded & {"torch", "optuna"}


def test_the_core_imports_neither_torch_nor_optuna_nor_another_nas_package():
    loaded = _loaded_after("import nas._core")
    assert "nas" in loaded and not loaded & {"torch", "optuna"}
    modules = _modules()
    outside = {
        target
        for name, path in modules.items()
        if name.startswith("nas._core")
        for target in _imports(name, path, modules)
        if not target.startswith("nas._core")
    }
    assert not outside, outside


def test_library_code_does_not_print():
    """stdout belongs to the commands (nas/cli): the library logs through `nas.*` loggers or
    returns text. Code inside strings (an exported file's own demo) is not called here."""
    printing = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for name, path in _modules().items()
        if not name.startswith("nas.cli")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]
    assert not printing, printing


def test_the_dry_run_imports_no_optuna(tmp_path):
    from tests.search.conftest import TINY_SPACE

    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    loaded = _loaded_after(
        "from nas.cli.search import main\n"
        f"assert main(['--space', {str(space)!r}, '--budget', '300K', '--proxy', 'tiny',\n"
        "             '--device', 'cpu', '--dry-run']) == 0"
    )
    assert "torch" in loaded and "optuna" not in loaded  # the time estimate trains steps


def test_a_results_folders_file_names_are_spelled_by_study_folder_only():
    """Every module asks nas.report.StudyFolder for a results folder's files: no other module
    spells one of their names as a string or joins one onto a path. nas.models sits below
    nas.report and spells the two it reads (held equal by tests/report/test_study_folder.py)."""
    from nas.report import StudyFolder

    names = {v for k, v in vars(StudyFolder).items() if k.isupper() and isinstance(v, str)}
    allowed = {"nas.report.study_folder", "nas.models.timm_registry"}
    spelled = []
    for name, path in _modules().items():
        if name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            joined = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            value = node.right if joined else node
            if isinstance(value, ast.Constant) and value.value in names:
                if joined or "." in value.value:  # a bare "archs" may be an argument's name
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value!r}")
    assert not spelled, spelled
