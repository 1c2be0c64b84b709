"""The layering the README describes, checked on the code's own imports so it stays true.

Packages import one way: cli → api → ingest → rag; inside rag: evaluation → answering → retrieval, backends →
storage → text → the root modules. Every import counts (lazy ones inside functions and type-only ones too):
a circle or an arrow back up fails here with the modules that make it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cli", "api", "ingest", "rag")
# Higher imports lower (or its own layer's package); never the other way. Layers that share a number
# (retrieval, backends) are siblings: neither imports the other.
LAYERS = {"cli": 40, "api": 30, "ingest": 20}
RAG_LAYERS = {"evaluation": 16, "answering": 15, "retrieval": 14, "backends": 14, "storage": 13, "text": 12}
RAG_ROOT = 11


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        single = ROOT / f"{package}.py"
        if single.is_file():
            found[package] = single
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            found[module_name(path)] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports, resolved to the deepest module that exists."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(path, name, known) for name, path in modules.items()}


def layer(module: str) -> tuple[int, str]:
    """(rank, the package that forms its layer)."""
    parts = module.split(".")
    if parts[0] != "rag":
        return LAYERS[parts[0]], parts[0]
    if len(parts) > 1 and parts[1] in RAG_LAYERS:
        return RAG_LAYERS[parts[1]], f"rag.{parts[1]}"
    return RAG_ROOT, "rag"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_code() -> None:
    graph = import_graph()
    assert "rag.answering.service" in graph["api.deps"] or any(t.startswith("rag.") for t in graph["api.deps"])
    assert "rag.storage.engine" in graph["rag.storage.chunks.postgres"]


def test_no_module_imports_in_a_circle() -> None:
    assert circles(import_graph()) == []


def test_imports_only_flow_down_the_layers() -> None:
    wrong = []
    for module, targets in import_graph().items():
        rank, home = layer(module)
        for target in targets:
            target_rank, target_home = layer(target)
            if target_home != home and target_rank >= rank:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_a_circle_is_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports() -> None:
    """A moved module leaves no import behind that only runs when its route or command does."""
    import importlib

    for module in sorted(import_graph()):
        importlib.import_module(module)
