"""The model registry: built-in entries (registry.json) merged with the user's models.json."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kizunasr_vs.core.files import sha256_file, write_atomic
from kizunasr_vs.core.paths import user_models_file
from kizunasr_vs.models.errors import RegistryError, UnknownModelError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DTYPES = ("float32", "float16")
_FIELDS = {"name", "file", "url", "sha256", "size", "scale", "channels", "dtype", "architecture",
           "license", "suits", "description", "path"}


@dataclass(frozen=True)
class ModelEntry:
    """One model: where to get it, how to check it, and what it is for."""

    name: str
    file: str
    sha256: str
    url: str | None = None
    size: int | None = None
    scale: int = 2
    channels: int = 3
    dtype: str = "float32"
    architecture: str = "unknown"
    license: str = "unknown"
    suits: tuple[int, int] | None = None
    description: str = ""
    path: str | None = None
    source: str = field(default="builtin", compare=False)

    def suits_height(self, height: int) -> bool:
        """True when a source of this height is in the range the model was trained for."""
        return self.suits is not None and self.suits[0] <= height <= self.suits[1]

    def to_json(self) -> dict[str, Any]:
        """The entry as written to models.json (no defaults-only noise, no `source`)."""
        out: dict[str, Any] = {"name": self.name, "file": self.file, "sha256": self.sha256}
        for key in ("url", "path", "size", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out.update(scale=self.scale, channels=self.channels, dtype=self.dtype,
                   architecture=self.architecture, license=self.license)
        if self.suits is not None:
            out["suits"] = list(self.suits)
        return out


def user_config_path() -> Path:
    """`$XDG_CONFIG_HOME/kizunasr/models.json` (or the platform's equivalent)."""
    return user_models_file()


def _int(raw: dict[str, Any], key: str, default: int | None, minimum: int) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"'{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _str(raw: dict[str, Any], key: str, default: str | None) -> str | None:
    value = raw.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, got {value!r}")
    return value


def entry_from_dict(raw: Any, *, source: str, base_dir: Path | None = None) -> ModelEntry:
    """Validate one JSON entry; raises ValueError naming the fault.

    A user entry needs either `url` plus `sha256`, or `path` (a local file; its sha256 is
    computed when not given). Relative paths are taken from `base_dir`.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"an entry must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    name = _str(raw, "name", None)
    if not name or not NAME_RE.match(name):
        raise ValueError(f"'name' must be letters, digits, '.', '_' or '-', got {name!r}")
    url, path = _str(raw, "url", None), _str(raw, "path", None)
    if url is None and path is None:
        raise ValueError("needs 'url' (with 'sha256') or 'path' (a local file)")
    if url is not None and not url.startswith(("https://", "http://", "file://")):
        raise ValueError(f"'url' must be http(s):// or file://, got {url!r}")
    if path is not None:
        local = Path(path).expanduser()
        if not local.is_absolute() and base_dir is not None:
            local = base_dir / local
        path = str(local)
    sha = _str(raw, "sha256", None)
    if sha is None:
        if url is not None or path is None:
            raise ValueError("'sha256' is required with 'url'")
        if not Path(path).is_file():
            raise ValueError(f"'path' {path} is not a file (and no 'sha256' was given)")
        sha = sha256_file(path)
    sha = sha.lower()
    if not _SHA_RE.match(sha):
        raise ValueError(f"'sha256' must be 64 hex digits, got {sha!r}")
    default_file = Path(path).name if path else (url or "").rstrip("/").rsplit("/", 1)[-1]
    file = _str(raw, "file", default_file) or ""
    if not file or file in (".", "..") or "/" in file or "\\" in file:
        raise ValueError(f"'file' must be a plain file name, got {file!r}")
    dtype = _str(raw, "dtype", "float32")
    if dtype not in _DTYPES:
        raise ValueError(f"'dtype' must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    suits = raw.get("suits")
    if suits is not None:
        if (not isinstance(suits, list) or len(suits) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in suits)
                or not 0 <= suits[0] <= suits[1]):
            raise ValueError(f"'suits' must be [min_height, max_height], got {suits!r}")
        suits = (suits[0], suits[1])
    return ModelEntry(
        name=name, file=file, sha256=sha, url=url, path=path,
        size=_int(raw, "size", None, 0), scale=_int(raw, "scale", 2, 1) or 2,
        channels=_int(raw, "channels", 3, 1) or 3, dtype=dtype,
        architecture=_str(raw, "architecture", "unknown") or "unknown",
        license=_str(raw, "license", "unknown") or "unknown", suits=suits,
        description=_str(raw, "description", "") or "", source=source,
    )


def _entries_list(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("models"), list):
        return data["models"]
    raise ValueError('expected {"models": [ ... ]} or a list of entries')


def _parse(text: str, origin: str, source: str, base_dir: Path | None) -> list[ModelEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{origin}: invalid JSON: {exc}") from None
    try:
        raw_entries = _entries_list(data)
    except ValueError as exc:
        raise RegistryError(f"{origin}: {exc}") from None
    entries: list[ModelEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_entries, 1):
        label = f"entry {i}" + (f" ({raw.get('name')!r})" if isinstance(raw, dict) and "name" in raw else "")
        try:
            entry = entry_from_dict(raw, source=source, base_dir=base_dir)
        except ValueError as exc:
            raise RegistryError(f"{origin}: {label}: {exc}") from None
        if entry.name in seen:
            raise RegistryError(f"{origin}: {label}: duplicate name {entry.name!r}")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def builtin_entries() -> list[ModelEntry]:
    """The models shipped with KizunaSR (registry.json package data)."""
    text = resources.files("kizunasr_vs.models").joinpath("registry.json").read_text(encoding="utf-8")
    return _parse(text, "built-in registry.json", "builtin", None)


def user_entries(config: Path | None = None) -> list[ModelEntry]:
    """Entries from the user's models.json; none when the file does not exist."""
    config = config or user_config_path()
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RegistryError(f"{config}: cannot read: {exc}") from None
    return _parse(text, str(config), "user", config.parent)


def load_registry(config: Path | None = None) -> dict[str, ModelEntry]:
    """Built-in entries, then user entries (a user entry with a built-in's name replaces it)."""
    merged = {e.name: e for e in builtin_entries()}
    merged.update((e.name, e) for e in user_entries(config))
    return merged


def get_entry(name: str, registry: dict[str, ModelEntry] | None = None) -> ModelEntry:
    """The entry called `name`; raises UnknownModelError listing the known names."""
    registry = load_registry() if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        raise UnknownModelError(name, sorted(registry)) from None


def suited(height: int, registry: dict[str, ModelEntry] | None = None) -> list[ModelEntry]:
    """Entries trained for sources of this height, in registry order."""
    registry = load_registry() if registry is None else registry
    return [e for e in registry.values() if e.suits_height(height)]


def add_user_entry(entry: ModelEntry, config: Path | None = None) -> Path:
    """Add (or replace, by name) an entry in the user's models.json, written atomically."""
    config = config or user_config_path()
    user_entries(config)  # refuse to rewrite a file we cannot parse
    data: Any = {"models": []}
    if config.exists():
        data = json.loads(config.read_text(encoding="utf-8"))
        if isinstance(data, list):
            data = {"models": data}
    data["models"] = [e for e in data["models"] if e.get("name") != entry.name] + [entry.to_json()]
    return write_atomic(config, json.dumps(data, indent=2) + "\n")
