"""Every user-facing folder and every ``KIZUNASR_*`` setting read from the environment, one function each:
the variable that overrides it and the default are in its docstring. (Nothing here creates a folder.)

The data folders (`glsl/`, `profiles/`, `mpv_scripts/`) are in the source tree (editable install), or in
share/kizunasr/ of the prefix a wheel was installed into (see pyproject's data-files)."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

from kizunasr_vs.core.errors import NotFound

APP = "kizunasr"
MODELS_DIR_ENV = "KIZUNASR_MODELS_DIR"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


# --- folders ------------------------------------------------------------------------------------

def data_dir(name: str) -> Path:
    """The data folder `name` (e.g. "glsl"): ``$KIZUNASR_DATA_DIR/name``, else the source tree's, else
    ``<prefix>/share/kizunasr/name``."""
    candidates = []
    if os.environ.get("KIZUNASR_DATA_DIR"):
        candidates.append(Path(os.environ["KIZUNASR_DATA_DIR"]) / name)
    here = Path(__file__).resolve()
    candidates.append(here.parents[2] / name)  # the source tree
    # a wheel: <prefix>/lib/pythonX.Y/site-packages/kizunasr_vs/core/ -> <prefix>/share/kizunasr
    prefixes = [here.parents[5], Path(sys.prefix), Path(site.getuserbase())] if len(here.parents) > 5 else []
    candidates += [prefix / "share" / APP / name for prefix in dict.fromkeys(prefixes)]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise NotFound(f"KizunaSR data folder '{name}' not found (looked in: "
                            + ", ".join(str(c) for c in candidates) + "); set KIZUNASR_DATA_DIR")


def cache_dir() -> Path:
    """The user cache folder: ``$KIZUNASR_CACHE_DIR``, else the platform's user cache dir for kizunasr
    (``$XDG_CACHE_HOME/kizunasr``, ``~/.cache/kizunasr`` on Linux)."""
    root = _env_path("KIZUNASR_CACHE_DIR")
    if root:
        return root
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP))


def models_dir() -> Path:
    """Downloaded models: ``$KIZUNASR_MODELS_DIR``, else ``<platform user cache dir>/kizunasr/models``
    (``$KIZUNASR_CACHE_DIR`` does not move it)."""
    env = _env_path(MODELS_DIR_ENV)
    if env:
        return env
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP)) / "models"


def trt_cache_root() -> Path:
    """TensorRT engine caches: ``$XDG_CACHE_HOME/kizunasr/trt``, else ``~/.cache/kizunasr/trt``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP / "trt"


def torchinductor_cache_dir() -> Path:
    """Where torch.compile keeps its kernels in `kizunasr` commands unless ``$TORCHINDUCTOR_CACHE_DIR`` is set:
    ``cache_dir()/torchinductor`` (a ``.vpy`` script gets torch's default unless it sets that variable)."""
    return cache_dir() / "torchinductor"


def config_dir() -> Path:
    """The user config folder: the platform's user config dir for kizunasr (``$XDG_CONFIG_HOME/kizunasr``,
    ``~/.config/kizunasr`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP))


def user_profiles_dir() -> Path:
    """User profiles (JSON): ``config_dir()/profiles``."""
    return config_dir() / "profiles"


def user_models_file() -> Path:
    """The user's model registry additions: ``config_dir()/models.json``."""
    return config_dir() / "models.json"


def mpv_config_dir() -> Path:
    """mpv's ``~~``: ``$MPV_HOME``, else ``$XDG_CONFIG_HOME/mpv``, else ``~/.config/mpv``."""
    home = _env_path("MPV_HOME")
    if home:
        return home
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "mpv"


# --- settings -----------------------------------------------------------------------------------

def worker_log() -> bool:
    """``KIZUNASR_WORKER_LOG`` (any non-empty value): the mpv worker logs at INFO (default WARNING)."""
    return bool(os.environ.get("KIZUNASR_WORKER_LOG"))

