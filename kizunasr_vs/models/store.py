"""The models directory: where model files live, whether they are intact, importing local files."""

from __future__ import annotations

import enum
import hashlib
import os
import re
from dataclasses import replace
from pathlib import Path

from kizunasr_vs.core import paths
from kizunasr_vs.core.errors import InputError, NotFound
from kizunasr_vs.core.files import check_output, replacing, sha256_file
from kizunasr_vs.core.resources import find_relative, not_found
from kizunasr_vs.models.errors import ChecksumError, InvalidModelError, ModelMissingError, RegistryError
from kizunasr_vs.models.registry import (
    NAME_RE,
    ModelEntry,
    add_user_entry,
    get_entry,
    load_registry,
)


class State(enum.StrEnum):
    """What `check` found for a model."""

    OK = "ok"
    MISSING = "missing"
    MISMATCH = "bad hash"


def models_dir() -> Path:
    """`$KIZUNASR_MODELS_DIR` if set, else `<user cache dir>/kizunasr/models` (not created here)."""
    return paths.models_dir()


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


def corrupt_message(entry: ModelEntry, path: Path, found: str) -> str:
    """The installed file is not the registered model: say so and how to replace it."""
    fix = (f"kizunasr models fetch --force {entry.name}" if entry.url or not entry.path
           else f"kizunasr models import {entry.path} --name {entry.name}")
    return (f"model {entry.name!r} at {path} is damaged or changed: sha256 {found}, expected {entry.sha256}; "
            f"replace it with: {fix}")


def copy_message(entry: ModelEntry, path: Path, found: str) -> str:
    """A file outside the models folder named like a registered model is not that model: say what to use."""
    return (f"{path} has the file name of model {entry.name!r} but is damaged or changed: sha256 {found}, "
            f"expected {entry.sha256}; use the installed model instead (--model {entry.name}, installed with "
            f"kizunasr models fetch {entry.name}), or give a model of your own another file name")


def model_path(name: str) -> Path:
    """Path of an installed, intact model; raises ModelMissingError (with the fetch command),
    ChecksumError (with the command that replaces it) or UnknownModelError.

    The file is hashed on every call: these models hash in milliseconds, less than building their session
    (docs/BENCHMARKS.md), and no record of an earlier hash can miss a change or be written anywhere."""
    entry = get_entry(name)
    path = installed_path(entry)
    if path is None:
        raise ModelMissingError(missing_message(entry))
    found = sha256_file(path)
    if found != entry.sha256:
        raise ChecksumError(corrupt_message(entry, path, found))
    return path


def registered_as(path: Path, registry: dict[str, ModelEntry]) -> ModelEntry | None:
    """The entry ``path`` is a copy of, going by its file name: a built-in model's file name anywhere (they are
    distinctive), or any entry's file name in the models folder; None for other files."""
    in_store = path.resolve().parent == models_dir().resolve()
    return next((e for e in registry.values() if path.name == e.file and (in_store or e.source == "builtin")), None)


def check_registered(path: Path, registry: dict[str, ModelEntry] | None = None) -> Path:
    """``path``, after checking its sha256 when it is a registered model's file (``registered_as``); raises
    ChecksumError saying what to use instead."""
    entry = registered_as(path, load_registry() if registry is None else registry)
    if entry is not None:
        found = sha256_file(path)
        if found != entry.sha256:
            in_store = path.resolve().parent == models_dir().resolve()
            raise ChecksumError(corrupt_message(entry, path, found) if in_store else copy_message(entry, path, found))
    return path


def find_model(name: str | os.PathLike[str]) -> Path:
    """A model file by registry name (ModelMissingError says how to fetch it), by file name in the models folder
    (``.onnx`` optional), else as a path: absolute, or relative to the running ``.vpy`` script's folder, then the
    current folder. FileNotFoundError names the places searched. A registered model is checked against its sha256
    however it is named (ChecksumError)."""
    text = os.fspath(name)
    searched: list[str] = []
    registered = None
    registry = load_registry()
    if text and Path(text).name == text:  # a bare name
        if text in registry:
            return model_path(text)
        for candidate in (models_dir() / text, models_dir() / f"{text}.onnx"):
            if candidate.is_file():
                return check_registered(candidate, registry)
        registered = next((e for e in registry.values() if text in (e.file, e.file.removesuffix(".onnx"))), None)
        searched += ["the model registry (kizunasr models list)", f"the models folder ({models_dir()})"]
    found = find_relative(text, searched)
    if found is None and registered is not None:  # a registered model's file name: say how to get it
        raise ModelMissingError(missing_message(registered))
    if found is None:
        raise NotFound(not_found("model", text, searched) + " (`kizunasr models list` shows the known "
                                "models, `kizunasr models fetch NAME` downloads one)")
    return check_registered(found, registry)


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
    with replacing(dest, ".part") as tmp:
        digest = hashlib.sha256()
        with open(tmp, "wb") as out, open(src, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{src} changed while it was copied (sha256 {digest.hexdigest()}, "
                                f"expected {sha256}); nothing was kept")


PROBE = 16  # side of the test input run by check_runs (a model with a fixed input size gets that size)


def check_runs(path: Path) -> int:
    """Refuse a file that is not an image model onnxruntime can run: it must parse as ONNX, pass
    ``onnx.checker``, and turn one small input of its declared type into a [1, C, H*s, W*s] output.
    Returns the scale s; raises InvalidModelError naming the fault."""
    import onnx
    import vapoursynth as vs

    from kizunasr_vs.inference.ort_session import CPU, create_session, detect_scale, load_model, model_info

    try:
        loaded = load_model(path)
        onnx.checker.check_model(loaded.proto)
        info = model_info(loaded)
        session = create_session(loaded.proto.SerializeToString(), str(path), [(CPU, {})], 1)
        return detect_scale(session, info, str(path), (info.height or PROBE, info.width or PROBE))
    except (vs.Error, onnx.checker.ValidationError) as exc:
        reason = str(exc).removeprefix(f"{path}: ")  # (the message names the file already)
        raise InvalidModelError(f"{path} is not a usable ONNX model: {reason}; nothing was imported") from None


def _name_from_file(path: Path) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")
    return name or "model"


def import_file(path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False) -> ModelEntry:
    """Copy a local model file into the models directory, atomically, and return its entry.

    A file that is not a runnable ONNX model is refused (InvalidModelError, see ``check_runs``).
    Without `name`, a file whose sha256 matches a registered model installs as that model;
    otherwise the name comes from the file name. A registered name must match the file's
    sha256 (ChecksumError otherwise; a local user entry is re-registered instead). An unknown
    name is added to the user's models.json. A store file with other content is replaced only with
    ``overwrite`` (ValueError otherwise), except the damaged copy of a registered model whose sha256 the file has.
    """
    src = Path(path).expanduser().resolve()
    if not src.is_file():
        raise NotFound(f"{src}: no such file")
    if name is not None and not NAME_RE.match(name):
        raise InputError(f"model name must be letters, digits, '.', '_' or '-', got {name!r}")
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
    check_runs(src)
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
    dest = store_path(new)
    if dest.is_file() and sha256_file(dest) != digest:
        check_output(dest, overwrite=overwrite)
    _copy_verified(src, dest, digest)
    add_user_entry(new)
    return new
