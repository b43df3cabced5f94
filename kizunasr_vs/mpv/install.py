"""Install KizunaSR into an mpv config folder, and remove it again, without touching the user's files.

Layout in the config dir (mpv's ``~~``: ``$MPV_HOME``, else ``$XDG_CONFIG_HOME/mpv``, else
``~/.config/mpv``)::

    scripts/kizunasr.lua                     the mpv script (mpv_scripts/kizunasr.lua)
    shaders/kizunasr/*.glsl                  the shader library (glsl/*.glsl), ~~/shaders/kizunasr/NAME
    shaders/kizunasr/mpv-0.35/*.glsl         copies without //!PARAM blocks (their defaults #defined), which
                                             the Lua script uses on mpv < 0.36 (it logs "Unrecognized command")
    script-opts/kizunasr.conf                options; worker_command = this kizunasr executable + " worker"
    script-opts/kizunasr-profiles/*.json     copies of the built-in profiles (for the Lua script and for
                                             reading; the worker uses the package's own profiles and the
                                             user's ~/.config/kizunasr/profiles)
    input.conf                               our key bindings, between "# >>> kizunasr >>>" / "# <<< kizunasr <<<"
    kizunasr-install.json                    manifest: every file we wrote, with its sha256

A file that exists with other content is never overwritten (unless ``force``; the old one is kept
as ``NAME.kizunasr-bak``), except a file of our previous install that the user has not changed
(its sha256 is still the manifest's), which is updated. Uninstall removes only files whose sha256
is still the manifest's, and our input.conf block. All writes go through a temporary file and
``os.replace`` (``write_atomic``): new files follow the umask, replaced ones keep their mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from kizunasr_vs.core.files import write_atomic
from kizunasr_vs.core.paths import cache_dir, data_dir
from kizunasr_vs.render.source import params_as_defines

MANIFEST = "kizunasr-install.json"
LUA = "scripts/kizunasr.lua"
DRY = {"installed": "would install", "updated": "would update", "replaced": "would replace",
       "removed": "would remove"}
INPUT_CONF = "input.conf"
COMPAT_DIR = "shaders/kizunasr/mpv-0.35"
BEGIN = "# >>> kizunasr >>>"
END = "# <<< kizunasr <<<"


@dataclass(frozen=True)
class Item:
    """A file to install: its path relative to the config dir and its exact bytes."""

    dest: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """What happened (or would happen, in a dry run) to one path."""

    action: str  # installed, updated, up to date, skipped, replaced, removed, kept, ...
    path: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.path}" + (f": {self.note}" if self.note else "")


def worker_command() -> str:
    """The ``worker_command`` option: this environment's kizunasr executable + "worker".

    A JSON array when a path has spaces (the Lua script splits plain values on spaces).
    """
    exe = Path(sys.executable).parent / "kizunasr"
    found = shutil.which("kizunasr")
    if exe.is_file() and os.access(exe, os.X_OK):
        argv = [str(exe.absolute()), "worker"]
    elif found:
        argv = [str(Path(found).absolute()), "worker"]
    else:
        argv = [str(Path(sys.executable).absolute()), "-m", "kizunasr_vs", "worker"]
    return json.dumps(argv) if any(any(c.isspace() for c in a) for a in argv) else " ".join(argv)


def old_mpv(version: str) -> bool:
    """True for an mpv older than 0.36 ("mpv 0.35.1"), which does not know ``//!PARAM``."""
    match = re.search(r"(\d+)\.(\d+)", version)
    return match is not None and (int(match[1]), int(match[2])) < (0, 36)


def mpv035_copy(shader: Path) -> Path:
    """``shader`` itself, or for one with ``//!PARAM`` blocks its copy for mpv < 0.36 (``params_as_defines``) in the
    user cache, named by its content, written when missing."""
    text = shader.read_text(encoding="utf-8")
    compat = params_as_defines(text)
    if compat == text:
        return shader
    dest = cache_dir() / "mpv-0.35" / f"{sha256(compat.encode())[:12]}-{shader.name}"
    if not dest.is_file():
        write_atomic(dest, compat)
    return dest


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def script_opts(template: str, command: str) -> str:
    """The options file with ``worker_command`` set to ``command``."""
    return re.sub(r"(?m)^worker_command=.*$", lambda _: f"worker_command={command}", template)


def items(command: str | None = None) -> list[Item]:
    """Every file to install (input.conf excluded), with the current sources' bytes."""
    scripts = data_dir("mpv_scripts")
    out: list[Item] = []
    lua = scripts / "kizunasr.lua"
    if lua.is_file():
        out.append(Item(LUA, lua.read_bytes()))
    for shader in sorted(data_dir("glsl").glob("*.glsl")):
        data = shader.read_bytes()
        text = data.decode("utf-8")
        out.append(Item(f"shaders/kizunasr/{shader.name}", data))
        if params_as_defines(text) != text:
            out.append(Item(f"{COMPAT_DIR}/{shader.name}", params_as_defines(text).encode()))
    conf = (scripts / "script-opts" / "kizunasr.conf").read_text(encoding="utf-8")
    out.append(Item("script-opts/kizunasr.conf", script_opts(conf, command or worker_command()).encode()))
    out += [Item(f"script-opts/kizunasr-profiles/{p.name}", p.read_bytes())
            for p in sorted(data_dir("profiles").glob("*.json")) if p.name != "schema.json"]
    return out


# ----- manifest ----------------------------------------------------------------------------------


def read_manifest(config: Path) -> dict:
    """The manifest of a previous install ({"files": {}, "input_conf": None} when there is none)."""
    path = config / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "input_conf": None}
    data.setdefault("files", {})
    data.setdefault("input_conf", None)
    return data


def write_manifest(config: Path, manifest: dict) -> None:
    write_atomic(config / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


# ----- input.conf --------------------------------------------------------------------------------


def normalise_key(key: str) -> str:
    """A key name for comparison: modifiers upper-case and sorted, named keys upper-case."""
    parts = key.split("+")
    if key.endswith("++"):  # the "+" key itself, e.g. "CTRL++"
        parts = [*key[:-2].split("+"), "+"]
    *mods, base = parts
    base = base.upper() if len(base) > 1 else base
    return "+".join(sorted(m.upper() for m in mods) + [base])


def block_span(lines: list[str]) -> tuple[int, int] | None:
    """Indexes of our BEGIN and END marker lines, or None when there is no complete block."""
    start = next((i for i, ln in enumerate(lines) if ln.strip() == BEGIN), None)
    if start is None:
        return None
    end = next((i for i in range(start, len(lines)) if lines[i].strip() == END), None)
    return None if end is None else (start, end)


def split_block(text: str) -> tuple[str, list[str] | None, str]:
    """(the text before our block, the block's lines without line ends or None, the text after it), the user's
    text exactly as it is (line ends included)."""
    lines = text.splitlines(keepends=True)
    span = block_span(lines)
    if span is None:
        return text, None, ""
    start, end = span
    return "".join(lines[:start]), [ln.rstrip("\r\n") for ln in lines[start:end + 1]], "".join(lines[end + 1:])


def user_keys(lines: list[str]) -> set[str]:
    """Keys bound by non-comment lines."""
    keys = set()
    for line in lines:
        words = line.split()
        if words and not words[0].startswith("#"):
            keys.add(normalise_key(words[0]))
    return keys


def build_block(snippet: str, taken: set[str]) -> tuple[list[str], list[str]]:
    """Our marker block for input.conf, and the keys left to the user's own bindings."""
    block, conflicts = [BEGIN], []
    for line in snippet.splitlines():
        words = line.split()
        if words and not words[0].startswith("#") and normalise_key(words[0]) in taken:
            conflicts.append(words[0])
            block.append(f"# {words[0]} is bound above in this file; kizunasr leaves it to you:")
            line = "#" + line
        block.append(line)
    return block + [END], conflicts


def join_lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist; bytes that are not UTF-8 (a Latin-1 comment) are kept as
    they are through ``encode_text``."""
    return path.read_bytes().decode("utf-8", "surrogateescape") if path.is_file() else None


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class InputConfPlan:
    """input.conf now (None: missing), with our block, what was added before the block, the keys left to the user."""

    current: str | None
    new: str
    added: str  # a line end and a blank line put before our block, removed with it on uninstall
    conflicts: list[str]


def plan_input_conf(config: Path) -> InputConfPlan:
    """Our block put into input.conf: in place of a previous one, else at the end; the user's bytes are kept."""
    current = read_text(config / INPUT_CONF)
    before, old_block, after = split_block(current or "")
    block, conflicts = build_block((data_dir("mpv_scripts") / INPUT_CONF).read_text(encoding="utf-8"),
                                   user_keys((before + after).splitlines()))
    if old_block is not None:  # replace our block where it is
        return InputConfPlan(current, before + join_lines(block) + after, "", conflicts)
    added = "" if not before or before.endswith(("\n", "\r")) else "\n"
    if before.strip():
        added += "\n"  # a blank line between the user's lines and ours
    return InputConfPlan(current, before + added + join_lines(block), added, conflicts)


# ----- install / uninstall -----------------------------------------------------------------------


def install(config: Path, dry_run: bool = False, force: bool = False, command: str | None = None) -> list[Outcome]:
    """Install into ``config``; returns what was done per path (nothing is written when ``dry_run``).

    Everything is read and planned before the first write; the manifest is rewritten after every file, so that
    an install that stops halfway can still be uninstalled.
    """
    manifest = read_manifest(config)
    owned: dict[str, str] = dict(manifest["files"])
    done: list[Outcome] = []
    todo = items(command)
    plan = plan_input_conf(config)
    if all(item.dest != LUA for item in todo):
        done.append(Outcome("missing", LUA, f"no kizunasr.lua in {data_dir('mpv_scripts')}; not installed"))
    writes: list[tuple[Item, str]] = []
    for item in todo:
        path = config / item.dest
        digest = sha256(item.data)
        if not path.exists():
            action = "installed"
        else:
            have = sha256(path.read_bytes()) if path.is_file() else ""
            if have == digest:
                owned[item.dest] = digest
                done.append(Outcome("up to date", item.dest))
                continue
            if owned.get(item.dest) == have and have:
                action = "updated"
            elif force and path.is_file():
                action = "replaced"
            else:
                done.append(Outcome("skipped", item.dest, "exists and differs; remove it or use --force"))
                continue
        writes.append((item, action))
        done.append(Outcome(DRY[action] if dry_run else action, item.dest,
                            "previous version kept as .kizunasr-bak" if action == "replaced" else ""))
    previous = manifest["input_conf"] or {}
    _, block, _ = split_block(plan.new)
    input_conf = {"block_sha256": sha256(join_lines(block or []).encode()),
                  "created": previous["created"] if previous else plan.current is None,
                  "added": previous.get("added", "") if previous else plan.added}

    def save(with_input_conf: bool) -> None:
        write_manifest(config, {"version": 1, "files": dict(sorted(owned.items())),
                                "input_conf": input_conf if with_input_conf else manifest["input_conf"]})

    note = "; ".join(f"{k} already bound by you, ours commented out" for k in plan.conflicts)
    if plan.current == plan.new:
        done.append(Outcome("up to date", INPUT_CONF, note))
    else:
        action = "installed" if plan.current is None else "updated"
        done.append(Outcome(DRY[action] if dry_run else action, INPUT_CONF,
                            note or "key bindings between kizunasr markers"))
    if dry_run:
        return done
    save(False)
    for item, action in writes:
        path = config / item.dest
        if action == "replaced":
            backup = write_atomic(path.with_name(path.name + ".kizunasr-bak"), path.read_bytes())
            shutil.copymode(path, backup)
        write_atomic(path, item.data)
        owned[item.dest] = sha256(item.data)
        save(False)
    save(True)
    if plan.current != plan.new:
        write_atomic(config / INPUT_CONF, encode_text(plan.new))
    return done


def uninstall(config: Path, dry_run: bool = False) -> list[Outcome]:
    """Remove what ``install`` wrote and the user has not changed; keep (and report) the rest."""
    manifest = read_manifest(config)
    done: list[Outcome] = []
    removed = DRY["removed"] if dry_run else "removed"
    if not (config / MANIFEST).is_file():
        return [Outcome("nothing to do", str(config), f"no {MANIFEST} (KizunaSR is not installed there)")]
    for rel, digest in sorted(manifest["files"].items()):
        path = config / rel
        if not path.is_file():
            done.append(Outcome("already gone", rel))
        elif sha256(path.read_bytes()) != digest:
            done.append(Outcome("kept", rel, "modified since install"))
        else:
            if not dry_run:
                path.unlink()
            done.append(Outcome(removed, rel))
    done += _uninstall_input_conf(config, manifest.get("input_conf") or {}, dry_run)
    if not dry_run:
        for folder in (COMPAT_DIR, "shaders/kizunasr", "script-opts/kizunasr-profiles"):
            _remove_if_empty(config / folder)
        (config / MANIFEST).unlink()
    return done


def _uninstall_input_conf(config: Path, info: dict, dry_run: bool) -> list[Outcome]:
    """Our block cut out, with what install added before it: the user's file as it was, byte for byte."""
    path = config / INPUT_CONF
    text = read_text(path)
    if text is None:
        return []
    before, block, after = split_block(text)
    if block is None:
        return []
    if info.get("block_sha256") and sha256(join_lines(block).encode()) != info["block_sha256"]:
        return [Outcome("kept", INPUT_CONF, "the kizunasr block was edited; remove it by hand")]
    added = info.get("added", "")
    if added and before.endswith(added):
        before = before[:-len(added)]
    removed = DRY["removed"] if dry_run else "removed"
    if not (before + after).strip() and info.get("created"):
        if not dry_run:
            path.unlink()
        return [Outcome(removed, INPUT_CONF)]
    if not dry_run:
        write_atomic(path, encode_text(before + after))
    return [Outcome(removed, INPUT_CONF, "kizunasr key bindings (your lines kept)")]


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def summary(outcomes: list[Outcome]) -> str:
    """Counts per action, e.g. "12 installed, 1 skipped"."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in counts.items())
