"""The command modules import each other without circles (each import counted, at module level or inside a
function): a circle means two modules that cannot be understood, or moved, one without the other."""

from __future__ import annotations

import ast
from pathlib import Path

import kizunasr_vs.cli

CLI = Path(kizunasr_vs.cli.__file__).parent


def cli_imports(path: Path) -> set[str]:
    """The kizunasr_vs.cli modules that ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "kizunasr_vs.cli":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kizunasr_vs.cli."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("kizunasr_vs.cli."))
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of ``graph``, each once, as the path that closes it."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == path[0] and frozenset(path) not in seen:
                seen.add(frozenset(path))
                found.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for start in sorted(graph):
        walk([start])
    return found


def test_circles_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_cli_modules_import_each_other_without_circles() -> None:
    graph = {path.stem: cli_imports(path) for path in CLI.glob("*.py")}
    assert graph["encode"] and graph["batch"]  # the parser sees the imports
    assert circles(graph) == []
