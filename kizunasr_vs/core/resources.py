"""Where KizunaSR's data folders (`glsl/`, `profiles/`, `mpv_scripts/`) are: the source tree (editable
install), or share/kizunasr/ of the prefix a wheel was installed into (see pyproject's data-files)."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path


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


def shader_path(name: str) -> Path:
    """A shader of our library by file name (e.g. "kizuna_edge2x.glsl"), or a path as given."""
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    return data_dir("glsl") / name


def cache_dir() -> Path:
    """The user cache folder (not created here): ``$KIZUNASR_CACHE_DIR``, else the platform's user cache
    dir for kizunasr (``$XDG_CACHE_HOME/kizunasr``, ``~/.cache/kizunasr`` on Linux)."""
    root = os.environ.get("KIZUNASR_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kizunasr"))
