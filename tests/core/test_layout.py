"""The library's layout holds: no Dagster in it, imports run one way between its subpackages and
never in a cycle, modules stay short, and the Dagster layer and the benchmarks use the public
API that each subpackage's ``__init__`` names."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "musicrec_core"
MAX_LINES = 450
# Each subpackage may import from its own level and the levels below it, never from above.
LEVELS = {
    "data": 0,
    "metrics": 1,
    "reports": 1,
    "models": 2,
    "evaluation": 3,
    "serving": 4,
    "answers": 5,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (ROOT / name.replace(".", "/") / "__init__.py").exists()


def _runtime_imports(tree: ast.Module) -> list[ast.stmt]:
    """Import statements that run on import: those under ``if TYPE_CHECKING:`` do not."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
    return found


def _imported_modules(path: Path) -> set[str]:
    """The musicrec_core modules (or packages) a module imports when it is imported."""
    out = set()
    for node in _runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("musicrec_core")}
        elif node.module and node.module.startswith("musicrec_core"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                is_module = (ROOT / (child.replace(".", "/") + ".py")).exists()
                out.add(child if is_module or _is_package(child) else node.module)
    return out


MODULES = {_module_name(p): p for p in CORE.rglob("*.py")}
GRAPH = {name: _imported_modules(path) for name, path in MODULES.items()}


def _level(name: str) -> int | None:
    parts = name.split(".")
    return LEVELS.get(parts[1]) if len(parts) > 1 else None


def test_every_subpackage_has_a_level():
    subpackages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(LEVELS)


def test_the_library_never_imports_dagster():
    offenders = [
        f"{name} imports {node.module if isinstance(node, ast.ImportFrom) else node.names[0].name}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster"))
        or (isinstance(node, ast.Import) and any(a.name.startswith("dagster") for a in node.names))
    ]
    assert offenders == []


def test_imports_never_reach_a_higher_level():
    upward = [
        f"{name} (level {_level(name)}) imports {target} (level {_level(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if _level(name) is not None and _level(target) is not None and _level(target) > _level(name)
    ]
    assert upward == []


def test_imports_have_no_cycle():
    """Depth-first search over the runtime imports; a package's ``__init__`` counts as the
    package."""
    state: dict[str, str] = {}
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH.get(name, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it along its seams"


def _consumer_imports(folder: str) -> list[tuple[str, ast.ImportFrom]]:
    return [
        (str(path.relative_to(ROOT)), node)
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("musicrec_core")
    ]


@pytest.mark.parametrize("folder", ["musicrec_dagster", "musicrec_api", "bench"])
def test_consumers_import_the_public_api(folder):
    """Names come from a subpackage's ``__all__``; whole modules (``schema``) may be imported."""
    bypassing = []
    for where, node in _consumer_imports(folder):
        if not _is_package(node.module):
            bypassing.append(f"{where}: from {node.module}")
            continue
        public = set(getattr(importlib.import_module(node.module), "__all__", ()))
        for alias in node.names:
            child = f"{node.module}.{alias.name}"
            is_module = (ROOT / (child.replace(".", "/") + ".py")).exists() or _is_package(child)
            if alias.name not in public and not is_module:
                bypassing.append(f"{where}: {alias.name} from {node.module}")
    assert bypassing == []


@pytest.mark.parametrize(
    "package", sorted(n for n, p in MODULES.items() if p.name == "__init__.py")
)
def test_public_api_names_exist(package):
    module = importlib.import_module(package)
    missing = [name for name in getattr(module, "__all__", ()) if not hasattr(module, name)]
    assert missing == []
