"""The code's shape, kept: short modules, a core that never sees the UI, no import cycles, the CLI a leaf."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
MODULES = sorted([*ROOT.glob("aae_core/*.py"), *ROOT.glob("explorer/*.py"), *ROOT.glob("explorer/views/*.py")])


def imports(path: Path) -> set[str]:
    """The modules a file imports: absolute names, and relative ones as sibling module names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            else:
                found.add(node.module or "")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_the_core_never_imports_streamlit_nor_the_cli():
    core = {p.stem: imports(p) for p in ROOT.glob("aae_core/*.py")}
    assert not [m for m, deps in core.items() if any(d.split(".")[0] == "streamlit" for d in deps)]
    assert [m for m, deps in core.items() if "cli" in deps] == ["__main__"]


def test_the_core_has_no_import_cycles():
    core = {p.stem: imports(p) & {q.stem for q in ROOT.glob("aae_core/*.py")} for p in ROOT.glob("aae_core/*.py")}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in core[module]:
            assert state.get(dep) != "open", f"import cycle: {' -> '.join([*path, dep])}"
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in core:
        if module not in state:
            visit(module, [module])
