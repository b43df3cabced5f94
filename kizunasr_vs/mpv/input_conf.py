"""Our key bindings in mpv's input.conf: a block between two marker lines, added and removed without losing a
line of the user's.

A block is a BEGIN line, then lines with no marker, then an END line. Ours is the block whose lines hash to
what the install recorded; any other marker line (a BEGIN with no END, several BEGINs, a block the user
edited) is the user's and stays. The user's bytes (line ends, text that is not UTF-8) are kept as they are.
A symlinked input.conf (dotfiles) stays a link: the file it points to is what gets rewritten.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from kizunasr_vs.core.files import write_atomic

NAME = "input.conf"
BEGIN = "# >>> kizunasr >>>"
END = "# <<< kizunasr <<<"


def read_text(path: Path) -> str | None:
    """A file's text (through a link), or None when there is none; bytes that are not UTF-8 (a Latin-1 comment)
    are kept as they are through ``encode_text``."""
    return path.read_bytes().decode("utf-8", "surrogateescape") if path.is_file() else None


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def join_lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def block_digest(lines: list[str]) -> str:
    """The hash the manifest keeps of a block (its lines without line ends)."""
    return hashlib.sha256(join_lines(lines).encode("utf-8", "surrogateescape")).hexdigest()


def is_marker(line: str) -> bool:
    return line.strip() in (BEGIN, END)


def complete_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line indexes of each BEGIN ... END block with no marker line inside."""
    blocks, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == BEGIN:
            start = i
        elif line.strip() == END and start is not None:
            blocks.append((start, i))
            start = None
    return blocks


@dataclass(frozen=True)
class Parsed:
    """input.conf cut at one block: the text before it, the block's lines (None: no block chosen), the text
    after it; and the 1-based numbers of the marker lines outside that block (the user's)."""

    before: str
    block: list[str] | None
    after: str
    other_markers: list[int]

    def text(self, block: list[str] | None) -> str:
        return self.before + join_lines(block or []) + self.after


def parse(text: str, digest: str | None, also: str | None = None) -> Parsed:
    """``text`` cut at our block: the last complete block whose hash is ``digest`` (or ``also``)."""
    lines = text.splitlines(keepends=True)
    bare = [ln.rstrip("\r\n") for ln in lines]
    ours = [(a, b) for a, b in complete_blocks(bare) if block_digest(bare[a:b + 1]) in (digest, also)]
    if not ours:
        return Parsed(text, None, "", [i + 1 for i, ln in enumerate(bare) if is_marker(ln)])
    start, end = ours[-1]
    others = [i + 1 for i, ln in enumerate(bare) if is_marker(ln) and not start <= i <= end]
    return Parsed("".join(lines[:start]), bare[start:end + 1], "".join(lines[end + 1:]), others)


def left_note(lines: list[int]) -> str:
    """What is said about marker lines that are not ours (kept)."""
    if not lines:
        return ""
    where = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
    return (f"{len(lines)} kizunasr marker line{'s' if len(lines) > 1 else ''} not written by this install "
            f"kept as they are (line{'s' if len(lines) > 1 else ''} {where})")


def target(config: Path) -> Path:
    """The file to write: input.conf, or the file it links to."""
    path = config / NAME
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def dangling_link(config: Path) -> str | None:
    """A message when input.conf is a link to nothing (we do not create the file it points to)."""
    path = config / NAME
    if path.is_symlink() and not path.exists():
        return f"{path} links to {os.readlink(path)}, which does not exist: create that file or remove the link"
    return None


def write(config: Path, text: str) -> None:
    """Write input.conf atomically; a link stays a link (its target is replaced, keeping its mode)."""
    write_atomic(target(config), encode_text(text))


def user_keys(lines: list[str]) -> set[str]:
    """Keys bound by non-comment lines."""
    keys = set()
    for line in lines:
        words = line.split()
        if words and not words[0].startswith("#"):
            keys.add(normalise_key(words[0]))
    return keys


def normalise_key(key: str) -> str:
    """A key name for comparison: modifiers upper-case and sorted, named keys upper-case."""
    parts = key.split("+")
    if key.endswith("++"):  # the "+" key itself, e.g. "CTRL++"
        parts = [*key[:-2].split("+"), "+"]
    *mods, base = parts
    base = base.upper() if len(base) > 1 else base
    return "+".join(sorted(m.upper() for m in mods) + [base])


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


@dataclass(frozen=True)
class Plan:
    """input.conf now (None: missing) and after the install; ``block``: our new block; ``added``: what goes before
    a new block (a line end, a blank line), removed with it; ``replaced``: our previous block is replaced in
    place; ``note``: one line for the user; ``skip``: leave the file as it is (``note`` says why)."""

    current: str | None
    new: str
    block: list[str]
    added: str
    conflicts: list[str]
    note: str = ""
    skip: bool = False
    replaced: bool = False


def plan(config: Path, snippet: str, digest: str | None) -> Plan:
    """Our block put into input.conf: in place of the one we wrote before (``digest``, or a block equal to ours
    when the manifest is lost), else at the end. A block of someone else's is kept and the file left alone."""
    missing = dangling_link(config)
    current = read_text(config / NAME)
    if missing:
        return Plan(current, "", [], "", [], missing, skip=True)
    text = current or ""
    parsed = parse(text, digest, block_digest(build_block(snippet, set())[0]))
    block, conflicts = build_block(snippet, user_keys((parsed.before + parsed.after).splitlines()))
    note = left_note(parsed.other_markers)
    if parsed.block is not None:  # ours: replaced where it is
        return Plan(current, parsed.text(block), block, "", conflicts, note, replaced=True)
    foreign = [f"{a + 1}-{b + 1}" for a, b in complete_blocks([ln.rstrip("\r\n") for ln in text.splitlines()])]
    if foreign:
        return Plan(current, text, [], "", [], f"the kizunasr block at lines {', '.join(foreign)} is not the one "
                    "this install wrote (edited?); kept: remove it by hand, or use --force to add ours as well",
                    skip=True)
    return appended(current, block, conflicts, note)


def appended(current: str | None, block: list[str], conflicts: list[str], note: str) -> Plan:
    """Our block added at the end, after a line end and a blank line where the user's text needs them."""
    text = current or ""
    added = "" if not text or text.endswith(("\n", "\r")) else "\n"
    if text.strip():
        added += "\n"  # a blank line between the user's lines and ours
    return Plan(current, text + added + join_lines(block), block, added, conflicts, note)


def forced(config: Path, snippet: str) -> Plan:
    """``plan`` for --force: our block added at the end although a block we did not write is there."""
    current = read_text(config / NAME)
    block, conflicts = build_block(snippet, user_keys((current or "").splitlines()))
    return appended(current, block, conflicts, left_note(parse(current or "", None).other_markers))


@dataclass(frozen=True)
class Removal:
    """What uninstall does to input.conf: ``text`` to write (None: leave the file), ``delete`` it (we created it
    and nothing else is left), the action, and one line saying what was kept or left."""

    action: str
    text: str | None = None
    delete: bool = False
    note: str = ""


def removal(config: Path, digest: str | None, added: str, created: bool) -> Removal:
    """Our block (and what install added before it) cut out; everything else kept byte for byte."""
    path = config / NAME
    text = read_text(path)
    if text is None:
        return Removal("already gone")
    parsed = parse(text, digest)
    if parsed.block is None:
        if parsed.other_markers:
            return Removal("kept", note="the kizunasr block is not the one this install wrote (edited?), so "
                           f"nothing was removed: {left_note(parsed.other_markers)}; remove them by hand")
        return Removal("already gone", note="no kizunasr block")
    before = parsed.before[:-len(added)] if added and parsed.before.endswith(added) else parsed.before
    rest = before + parsed.after
    if not rest.strip() and created and not path.is_symlink():
        return Removal("removed", delete=True)
    kept = left_note(parsed.other_markers)
    return Removal("removed", rest, note="kizunasr key bindings (your lines kept" + (f"; {kept}" if kept else "") + ")")
