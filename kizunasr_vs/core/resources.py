"""Finding a file by name: a built-in shader, or a path relative to the running ``.vpy`` script's folder or
the current folder (the folders themselves are in ``core.paths``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType

from kizunasr_vs.core.errors import NotFound
from kizunasr_vs.core.paths import data_dir


def script_dir() -> Path | None:
    """The folder of the ``.vpy`` script being evaluated (vspipe, vsscript), when a caller is one."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "__vapoursynth__" and frame.f_globals.get("__file__"):
            return Path(os.path.abspath(frame.f_globals["__file__"])).parent
        frame = frame.f_back
    return None


def search_folders() -> list[Path]:
    """Where a relative path is looked for: the running ``.vpy`` script's folder (when there is one), then
    the current folder."""
    return list(dict.fromkeys(f for f in (script_dir(), Path.cwd()) if f is not None))


def find_relative(name: str | os.PathLike[str], searched: list[str]) -> Path | None:
    """``name`` as a path: absolute (``~`` expanded), or relative to ``search_folders()``; None when no file is
    there. Each place looked in is added to ``searched``."""
    path = Path(os.fspath(name)).expanduser()
    folders = [Path()] if path.is_absolute() else search_folders()
    for folder in folders:
        candidate = folder / path
        if candidate.is_file():
            return candidate
        searched.append(str(candidate.parent))
    return None


def builtin_shader(name: str) -> Path | None:
    """Our library's shader called ``name`` ("kizuna_edge2x" or "kizuna_edge2x.glsl"), else None. Only a bare
    file name is a built-in name; "./kizuna_edge2x.glsl" is a path."""
    if not name or Path(name).name != name or name in (".", ".."):
        return None
    folder = data_dir("glsl")
    for candidate in (folder / name, folder / f"{name}.glsl"):
        if candidate.is_file():
            return candidate
    return None


def shader_path(name: str | os.PathLike[str]) -> Path:
    """A shader by built-in name (package files only: a file of that name in the current folder never shadows
    it), else a path, absolute or relative to the running ``.vpy`` script's folder, then the current folder.
    FileNotFoundError names the folders searched."""
    builtin = builtin_shader(os.fspath(name))
    if builtin is not None:
        return builtin
    bare = Path(os.fspath(name)).name == os.fspath(name)
    searched = [f"built-in shaders ({data_dir('glsl')})"] if bare else []
    found = find_relative(name, searched)
    if found is not None:
        return found
    raise NotFound(not_found("shader", name, searched))


def not_found(what: str, name: str | os.PathLike[str], searched: list[str]) -> str:
    """"<what> 'name' not found; searched: A, B" (each place once)."""
    return f"{what} '{os.fspath(name)}' not found; searched: " + ", ".join(dict.fromkeys(searched))
