"""The layers show on the tree: rag/ (the library) imports nothing above it, ingest/ only rag/,
and no two modules import each other at load time."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ABOVE = {"rag": {"ingest", "ui", "eval", "bench", "train", "tests"}, "ingest": {"ui", "eval", "bench", "train", "tests"}}


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_no_import_runs_back_up_a_layer():
    for package, forbidden in ABOVE.items():
        for path in (ROOT / package).rglob("*.py"):
            wrong = {m for m in _imports(path, top_level_only=False) if m.split(".")[0] in forbidden}
            assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_no_import_circle_at_load_time():
    packages = ("rag", "ingest", "ui", "eval", "bench", "train")
    graph = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            graph[_module(path)] = {m for m in _imports(path, top_level_only=True) if m.split(".")[0] in packages}

    def visit(node, trail):
        assert node not in trail, " -> ".join([*trail, node])
        for nxt in graph.get(node, ()):
            visit(nxt, (*trail, node))

    for node in graph:
        visit(node, ())
