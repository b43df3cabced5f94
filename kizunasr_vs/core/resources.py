"""Where KizunaSR's data folders (`glsl/`, `profiles/`, `mpv_scripts/`) are: the source tree (editable
install), or share/kizunasr/ of the prefix a wheel was installed into (see pyproject's data-files)."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path
from types import FrameType


def data_dir(name: str) -> Path:
    """The folder `name` (e.g. "glsl"): $KIZUNASR_DATA_DIR/name, the source tree, or <prefix>/share/kizunasr."""
    candidates = []
    if os.environ.get("KIZUNASR_DATA_DIR"):
        candidates.append(Path(os.environ["KIZUNASR_DATA_DIR"]) / name)
    here = Path(__file__).resolve()
    candidates.append(here.parents[2] / name)  # the source tree
    # a wheel: <prefix>/lib/pythonX.Y/site-packages/kizunasr_vs/core/ -> <prefix>/share/kizunasr
    prefixes = [here.parents[5], Path(sys.prefix), Path(site.getuserbase())] if len(here.parents) > 5 else []
    candidates += [prefix / "share" / "kizunasr" / name for prefix in dict.fromkeys(prefixes)]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"KizunaSR data folder '{name}' not found (looked in: "
                            + ", ".join(str(c) for c in candidates) + "); set KIZUNASR_DATA_DIR")


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
    raise FileNotFoundError(not_found("shader", name, searched))


def not_found(what: str, name: str | os.PathLike[str], searched: list[str]) -> str:
    """"<what> 'name' not found; searched: A, B" (each place once)."""
    return f"{what} '{os.fspath(name)}' not found; searched: " + ", ".join(dict.fromkeys(searched))


def cache_dir() -> Path:
    """The user cache folder (not created here): ``$KIZUNASR_CACHE_DIR``, else the platform's user cache
    dir for kizunasr (``$XDG_CACHE_HOME/kizunasr``, ``~/.cache/kizunasr`` on Linux)."""
    root = os.environ.get("KIZUNASR_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kizunasr"))
