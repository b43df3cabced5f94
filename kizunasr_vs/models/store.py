"""The models directory: where model files live, whether they are intact, importing local files."""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import platformdirs

from kizunasr_vs.core.files import sha256_file
from kizunasr_vs.core.resources import find_relative, not_found
from kizunasr_vs.models.errors import ChecksumError, ModelMissingError, RegistryError
from kizunasr_vs.models.registry import (
    NAME_RE,
    ModelEntry,
    add_user_entry,
    get_entry,
    load_registry,
)

ENV_MODELS_DIR = "KIZUNASR_MODELS_DIR"


class State(enum.StrEnum):
    """What `check` found for a model."""

    OK = "ok"
    MISSING = "missing"
    MISMATCH = "bad hash"


def models_dir() -> Path:
    """`$KIZUNASR_MODELS_DIR` if set, else `<user cache dir>/kizunasr/models` (not created here)."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("kizunasr")) / "models"


def store_path(entry: ModelEntry) -> Path:
    """Where the entry's file lives in the models directory (whether or not it is there)."""
    return models_dir() / entry.file


def installed_path(entry: ModelEntry) -> Path | None:
    """The file to use: the store copy, else a user entry's local `path`; None when neither exists."""
    stored = store_path(entry)
    if stored.is_file():
        return stored
    if entry.path and Path(entry.path).is_file():
        return Path(entry.path)
    return None


def missing_message(entry: ModelEntry) -> str:
    """Why the model is unavailable and the exact command that installs it."""
    msg = (f"model {entry.name!r} is not installed (looked for {store_path(entry)}); "
           f"download it with: kizunasr models fetch {entry.name}")
    if entry.url is None:
        msg += f" (or: kizunasr models import FILE --name {entry.name})"
    return msg


def model_path(name: str) -> Path:
    """Path of an installed model; raises ModelMissingError (with the fetch command) or UnknownModelError."""
    entry = get_entry(name)
    path = installed_path(entry)
    if path is None:
        raise ModelMissingError(missing_message(entry))
    return path


def find_model(name: str | os.PathLike[str]) -> Path:
    """A model file by registry name (ModelMissingError says how to fetch it), by file name in the models folder
    (``.onnx`` optional), else as a path: absolute, or relative to the running ``.vpy`` script's folder, then the
    current folder. FileNotFoundError names the places searched."""
    text = os.fspath(name)
    searched: list[str] = []
    registered = None
    if text and Path(text).name == text:  # a bare name
        registry = load_registry()
        if text in registry:
            return model_path(text)
        for candidate in (models_dir() / text, models_dir() / f"{text}.onnx"):
            if candidate.is_file():
                return candidate
        registered = next((e for e in registry.values() if text in (e.file, e.file.removesuffix(".onnx"))), None)
        searched += ["the model registry (kizunasr models list)", f"the models folder ({models_dir()})"]
    found = find_relative(text, searched)
    if found is None and registered is not None:  # a registered model's file name: say how to get it
        raise ModelMissingError(missing_message(registered))
    if found is None:
        raise FileNotFoundError(not_found("model", text, searched) + " (`kizunasr models list` shows the known "
                                "models, `kizunasr models fetch NAME` downloads one)")
    return found


def check(entry: ModelEntry) -> State:
    """Hash the installed file and compare with the registry."""
    path = installed_path(entry)
    if path is None:
        return State.MISSING
    if entry.size is not None and path.stat().st_size != entry.size:
        return State.MISMATCH
    return State.OK if sha256_file(path) == entry.sha256 else State.MISMATCH


def verify(name: str) -> bool:
    """True when the model is installed and its sha256 matches the registry."""
    return check(get_entry(name)) is State.OK


def _copy_verified(src: Path, dest: Path, sha256: str) -> None:
    """Copy src to dest through a temporary file in dest's folder, checking the hash; atomic replace."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{src} changed while it was copied (sha256 {digest.hexdigest()}, "
                                f"expected {sha256}); nothing was kept")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _name_from_file(path: Path) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")
    return name or "model"


def import_file(path: str | os.PathLike[str], name: str | None = None) -> ModelEntry:
    """Copy a local model file into the models directory, atomically, and return its entry.

    Without `name`, a file whose sha256 matches a registered model installs as that model;
    otherwise the name comes from the file name. A registered name must match the file's
    sha256 (ChecksumError otherwise; a local user entry is re-registered instead). An unknown
    name is added to the user's models.json.
    """
    src = Path(path).expanduser().resolve()
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    if name is not None and not NAME_RE.match(name):
        raise ValueError(f"model name must be letters, digits, '.', '_' or '-', got {name!r}")
    digest = sha256_file(src)
    registry = load_registry()
    if name is None:
        match = next((e for e in registry.values() if e.sha256 == digest), None)
        name = match.name if match else _name_from_file(src)
    entry = registry.get(name)
    if entry is not None and entry.sha256 == digest:
        _copy_verified(src, store_path(entry), digest)
        return entry
    if entry is not None and (entry.source == "builtin" or entry.url is not None):
        raise ChecksumError(f"{src} is not model {name!r}: sha256 {digest}, expected {entry.sha256}; "
                            "nothing was kept (import it under another --name)")
    suffix = src.suffix or ".onnx"
    new = ModelEntry(name=name, file=f"{name}{suffix}", sha256=digest, size=src.stat().st_size,
                     path=str(src), url=None, source="user",
                     description=f"imported from {src}")
    if entry is not None:  # a local user entry re-imported with new content: keep its metadata
        new = replace(entry, sha256=digest, size=new.size, path=str(src))
    clash = next((e for e in registry.values() if e.file == new.file and e.name != name), None)
    if clash is not None:
        raise RegistryError(f"file name {new.file} is already used by model {clash.name!r}; "
                            "import it under another --name")
    _copy_verified(src, store_path(new), digest)
    add_user_entry(new)
    return new
