"""Loading and validating profile JSON files (schema: profiles/schema.json).

Built-in profiles live in the `profiles/` data folder; user profiles in
``<user config dir>/kizunasr/profiles/*.json`` add to them or override a built-in of the same name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from kizunasr_vs.core import bounded_json
from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.paths import data_dir, user_profiles_dir

Step = dict[str, Any]

MAX_BYTES = 1 << 20  # a profile is a few kB; anything much larger is not one
MAX_DEPTH = 16  # the schema nests 7 levels (ranges, fallback chains, steps, params)


class ProfileError(KizunaError, ValueError):
    """A profile that cannot be used; the message names the file, the JSON path and what was expected."""


@dataclass(frozen=True)
class RangeChains:
    """The chains for sources up to ``max_height`` lines (None: any height); ``fallback``: cheaper realtime
    chains for the mpv governor, heaviest first (None: not given, see ``profiles.ladder``)."""

    max_height: int | None
    realtime: list[Step]
    pause: list[Step]
    encode: list[Step]
    fallback: list[list[Step]] | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    requires: dict[str, Any]
    ranges: list[RangeChains]
    path: Path
    preference: str | None = None

    def for_height(self, height: int) -> RangeChains:
        """The chains for a source of ``height`` lines."""
        for chains in self.ranges:
            if chains.max_height is None or height <= chains.max_height:
                return chains
        raise ProfileError(f"{self.path}: no range covers a source of height {height}; "
                           'add a last range with "max_height": null')


def builtin_profiles_dir() -> Path:
    return data_dir("profiles")


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((builtin_profiles_dir() / "schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _json_path(error: jsonschema.ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _schema_error(path: Path, data: Any) -> ProfileError | None:
    errors = list(_validator().iter_errors(data))
    if not errors:
        return None
    error = jsonschema.exceptions.best_match(errors)
    if error.context:  # a oneOf: report the alternative that came closest
        error = jsonschema.exceptions.best_match(error.context)
    expected = error.schema.get("description") or error.validator
    return ProfileError(f"{path}: at {_json_path(error)}: {error.message} (expected: {expected})")


def _check_ranges(path: Path, ranges: list[dict[str, Any]]) -> None:
    previous = 0
    for i, entry in enumerate(ranges):
        height = entry["max_height"]
        if height is None and i != len(ranges) - 1:
            raise ProfileError(f"{path}: at $.ranges[{i}].max_height: null must be the last range")
        if height is not None and height <= previous:
            raise ProfileError(f"{path}: at $.ranges[{i}].max_height: {height} is not above the previous "
                               f"range's {previous} (expected ascending heights)")
        previous = height or previous
        if entry.get("fallback") and not entry["realtime"]:
            raise ProfileError(f"{path}: at $.ranges[{i}].fallback: the range has no realtime chain to fall back "
                               "from (expected: no fallback, or a realtime chain)")


def _read(path: Path) -> str:
    """The file's text; ProfileError names the file and the problem (missing, not a file, too large, not UTF-8)."""
    try:
        if path.exists() and not path.is_file():
            raise ProfileError(f"{path}: is not a file (a profile is a .json file)")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise ProfileError(f"{path}: larger than {MAX_BYTES >> 10} KiB; is it a profile?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ProfileError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
                           "save it as UTF-8") from None


def load_profile_file(path: Path) -> Profile:
    """Read and validate one profile file."""
    text = _read(path)
    try:
        data = bounded_json.loads(text, MAX_DEPTH)
    except bounded_json.TooDeep as exc:
        raise ProfileError(f"{path}: {exc}; a profile nests a few levels (see profiles/schema.json)") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    error = _schema_error(path, data)
    if error:
        raise error
    _check_ranges(path, data["ranges"])
    ranges = [RangeChains(r["max_height"], r["realtime"], r["pause"], r["encode"], r.get("fallback"))
              for r in data["ranges"]]
    return Profile(data["name"], data["description"], data["requires"], ranges, path, data.get("preference"))


def available_profiles() -> dict[str, Path]:
    """Profile name -> file; user profiles override built-ins of the same name."""
    found: dict[str, Path] = {}
    for folder in (builtin_profiles_dir(), user_profiles_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                if path.name != "schema.json":
                    found[path.stem] = path
    return found


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (built-in or user) or by file path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or candidate.exists():
        return load_profile_file(candidate)
    profiles = available_profiles()
    if str(name_or_path) not in profiles:
        raise ProfileError(f"unknown profile '{name_or_path}'; available: {', '.join(sorted(profiles))} "
                           f"(or 'auto'; user profiles go in {user_profiles_dir()})")
    return load_profile_file(profiles[str(name_or_path)])
