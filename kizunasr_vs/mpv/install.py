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
                                             (input_conf.py: the user's lines are never touched)
    kizunasr-install.json                    manifest: every file we wrote, with its sha256, our input.conf
                                             block's hash and the folders the install created

A file that exists with other content is never overwritten (unless ``force``; the old one is kept
as ``NAME.kizunasr-bak``), except a file of our previous install that the user has not changed
(its sha256 is still the manifest's), which is updated. Uninstall removes only files whose sha256
is still the manifest's, our input.conf block, and the folders the install created once they are
empty. All writes go through a temporary file and ``os.replace`` (``write_atomic``): new files follow
the umask, replaced ones keep their mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from kizunasr_vs.core.files import write_atomic
from kizunasr_vs.core.paths import data_dir
from kizunasr_vs.mpv import input_conf
from kizunasr_vs.render.source import params_as_defines

MANIFEST = "kizunasr-install.json"
LUA = "scripts/kizunasr.lua"
DRY = {"installed": "would install", "updated": "would update", "replaced": "would replace",
       "removed": "would remove"}
INPUT_CONF = input_conf.NAME
COMPAT_DIR = "shaders/kizunasr/mpv-0.35"
BEGIN, END = input_conf.BEGIN, input_conf.END
# folders an install from before the manifest listed created folders may leave: ours by name, removed when empty
OUR_FOLDERS = (COMPAT_DIR, "shaders/kizunasr", "script-opts/kizunasr-profiles")


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
    """The manifest of a previous install ({"files": {}, "input_conf": None} when there is none); "created_dirs"
    is missing when the install did not record them."""
    path = config / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "input_conf": None, "created_dirs": []}
    if not isinstance(data, dict):
        return {"files": {}, "input_conf": None, "created_dirs": []}
    data.setdefault("files", {})
    data.setdefault("input_conf", None)
    return data


def missing_dirs(config: Path, rels: list[str]) -> list[str]:
    """The folders (relative to ``config``, "." for itself) that writing ``rels`` would create."""
    wanted = {".", *(str(parent) for rel in rels for parent in Path(rel).parents if str(parent) != ".")}
    return sorted(d for d in wanted if not (config / d).exists())


def write_manifest(config: Path, manifest: dict) -> None:
    write_atomic(config / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


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
    previous = manifest["input_conf"] or {}
    snippet = (data_dir("mpv_scripts") / INPUT_CONF).read_text(encoding="utf-8")
    plan = input_conf.plan(config, snippet, previous.get("block_sha256"))
    if plan.skip and force and not input_conf.dangling_link(config):
        plan = input_conf.forced(config, snippet)
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
    conf_info = {"block_sha256": input_conf.block_digest(plan.block),
                 "created": previous.get("created", False) if plan.replaced else plan.current is None,
                 "added": previous.get("added", "") if plan.replaced else plan.added}
    created_dirs = sorted({*manifest.get("created_dirs", []),
                           *missing_dirs(config, [item.dest for item, _ in writes] + [MANIFEST])})
    done.append(_input_conf_outcome(plan, dry_run))
    if dry_run:
        return done

    def save(with_input_conf: bool) -> None:
        write_manifest(config, {"version": 1, "files": dict(sorted(owned.items())), "created_dirs": created_dirs,
                                "input_conf": conf_info if with_input_conf else manifest["input_conf"]})

    save(False)
    for item, action in writes:
        path = config / item.dest
        if action == "replaced":
            backup = write_atomic(path.with_name(path.name + ".kizunasr-bak"), path.read_bytes())
            shutil.copymode(path, backup)
        write_atomic(path, item.data)
        owned[item.dest] = sha256(item.data)
        save(False)
    if plan.skip:
        return done
    save(True)
    if plan.current != plan.new:
        input_conf.write(config, plan.new)
    return done


def _input_conf_outcome(plan: input_conf.Plan, dry_run: bool) -> Outcome:
    """The one line said about input.conf."""
    if plan.skip:
        return Outcome("skipped", INPUT_CONF, plan.note)
    notes = [f"{k} already bound by you, ours commented out" for k in plan.conflicts]
    notes += [plan.note] if plan.note else []
    if plan.current == plan.new:
        return Outcome("up to date", INPUT_CONF, "; ".join(notes))
    action = "installed" if plan.current is None else "updated"
    return Outcome(DRY[action] if dry_run else action, INPUT_CONF,
                   "; ".join(notes) or "key bindings between kizunasr markers")


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
        (config / MANIFEST).unlink()
        done += _remove_created_dirs(config, manifest.get("created_dirs"))
    return done


def _uninstall_input_conf(config: Path, info: dict, dry_run: bool) -> list[Outcome]:
    """Our block cut out, with what install added before it: the user's file as it was, byte for byte."""
    plan = input_conf.removal(config, info.get("block_sha256"), info.get("added", ""), bool(info.get("created")))
    action = DRY.get(plan.action, plan.action) if dry_run else plan.action
    if not dry_run:
        if plan.delete:
            (config / INPUT_CONF).unlink()
        elif plan.text is not None:
            input_conf.write(config, plan.text)
    return [Outcome(action, INPUT_CONF, plan.note)]


def _remove_created_dirs(config: Path, created: list[str] | None) -> list[Outcome]:
    """The folders the install created, deepest first, each only if empty; a folder left is said once."""
    if created is None:  # an install that did not record them: only the folders named after us
        candidates = list(OUR_FOLDERS)
    else:
        candidates = sorted(created, key=lambda d: (-len(Path(d).parts), d))
        candidates = [d for d in candidates if d != "."] + (["."] if "." in candidates else [])
    left = []
    for rel in candidates:
        folder = config / rel
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            folder.rmdir()
        except OSError:
            left.append(rel)
    if created is not None and left:
        return [Outcome("kept", ", ".join(d + "/" if d != "." else str(config) for d in left),
                        "folders the install created, not empty (files of yours are in them)")]
    return []


def summary(outcomes: list[Outcome]) -> str:
    """Counts per action, e.g. "12 installed, 1 skipped"."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in counts.items())
