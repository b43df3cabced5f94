"""The package's layers: a lower room never imports a higher one (lazy and type-only imports included).

core < render, inference, compiler, media < models < profiles < train, mpv, cluster < cli. Rooms of one rank may
import each other (inference uses compiler's ONNX helpers). The package's own face (``kizunasr_vs/__init__.py``,
``__main__.py``) sits above them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

RANK = {"core": 0, "render": 1, "inference": 1, "compiler": 1, "media": 1, "models": 2, "profiles": 3,
        "train": 4, "mpv": 4, "cluster": 4, "cli": 5}
PACKAGE = REPO / "kizunasr_vs"


def imported_rooms(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, room) for every import of a ``kizunasr_vs`` module in the file, relative imports resolved."""
    parts = path.relative_to(root).with_suffix("").parts
    package = list(parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[list[str]] = []
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "kizunasr_vs"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "kizunasr_vs":
                module = node.module.split(".")[1:]
            else:
                continue
            names = [module] if module else [[a.name] for a in node.names]
        found += [(node.lineno, name[0]) for name in names if name and name[0] in RANK]
    return found


def layer_violations(root: Path = PACKAGE) -> list[str]:
    """Every import from a room into a room of a higher rank, as "file:line: room imports room"."""
    out = []
    for path in sorted(root.rglob("*.py")):
        room = path.relative_to(root).parts[0]
        if room not in RANK:  # __init__.py and __main__.py of the package itself
            continue
        for line, target in sorted(imported_rooms(path, root)):
            if RANK[target] > RANK[room]:
                out.append(f"{path.relative_to(root.parent)}:{line}: {room} imports {target}")
    return out


def test_no_room_imports_a_higher_one() -> None:
    assert layer_violations() == []


def test_every_room_has_a_rank() -> None:
    """A new room must be placed in the layering (else its imports would go unchecked)."""
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert rooms == set(RANK)


def test_the_checker_finds_an_upward_import(tmp_path: Path) -> None:
    """A core module importing profiles (directly, lazily in a function, or relatively) is reported."""
    root = tmp_path / "kizunasr_vs"
    (root / "core").mkdir(parents=True)
    (root / "core" / "bad.py").write_text("import kizunasr_vs.core.paths\n"
                                          "def f():\n    from kizunasr_vs.profiles import loader\n"
                                          "from ..cli import main\n")
    assert layer_violations(root) == ["kizunasr_vs/core/bad.py:3: core imports profiles",
                                      "kizunasr_vs/core/bad.py:4: core imports cli"]
