#!/usr/bin/env python3
"""Rebuild the learned shaders' training and held-out images from the tables of ``kizunasr_vs/train/DATA.md``.

Every row of DATA.md's "### Files" tables names a file, its source repository, the path in it, the commit, for
videos the frame, the crop box (x0,y0,x1,y1) in source pixels, the scale and the resulting size. This script reads
those tables and redoes the processing from snapshots of the repositories (git directories under ``--mirrors``,
one per repository, at ``MIRRORS/owner+name/repo``, as the session's ``fetch`` leaves them):

- source: the blob at the listed commit (the newest commit's version if the snapshot lacks that commit, reported);
  videos: frame N decoded by ffmpeg (``select=eq(n,N)``, RGB); ``.sif`` rigs: rendered by synfig at the listed size,
  frame 0 (skipped, and reported, when synfig is not installed);
- RGB, alpha flattened onto white; the crop box applied in source coordinates (a box reaching past the source, as
  in some ``animesr_yazdi_`` rows, repeats the edge pixels, as DATA.md's checks describe);
- scale: 0.5 by box (area) filter, other factors (0.75) by Lanczos; sizes rounded to the nearest integer;
- the size is checked against the table's ``size`` column (mismatches printed);
- the 12 held-out illustrations are then centre-cropped to at most 960x544.

Output (under ``--out``): ``heldout/{illus,broadcast,lineart,grain}`` and the same files flat in ``heldout/all``
(a name found in two groups gets its group as prefix), ``train/illus`` (the 130 training illustrations and the
``train/lineart`` table) and ``train/broadcast``. The "Left out" style2paints files are not written.

Usage: python bench/rebuild_data.py --mirrors /work/.mirror [--out /work/data] [--only heldout|train]
Needs Pillow and numpy, ffmpeg on PATH for video frames, synfig for the Morevna renders.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_MD = REPO_ROOT / "kizunasr_vs" / "train" / "DATA.md"
HELDOUT_MAX = (960, 544)  # centre crop of the held-out illustrations (width, height)
VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".mov", ".avi")
HELDOUT_GROUPS = ("illus", "broadcast", "lineart", "grain")

Box = tuple[int, int, int, int]
Size = tuple[int, int]


@dataclass
class Row:
    """One row of a DATA.md file table, with where its image goes."""

    name: str  # file name without sub-folder or marks
    group: str  # output folder under --out: heldout/illus, train/broadcast, ...
    table: str  # the table it came from (illus, broadcast, heldout/lineart, train/lineart, ...)
    repo: str
    path: str
    commit: str
    frame: int | None
    render: Size | None
    box: Box | None
    source_size: Size | None
    scale: float
    size: Size


# --------------------------------------------------------------------------------------------------------- DATA.md


def _ints(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", text)]


def _size(text: str) -> Size | None:
    m = re.search(r"(\d+)x(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _cell(col: dict[str, str], prefix: str) -> str:
    """The cell of the first column whose header starts with ``prefix`` ('' if none)."""
    return next((v for k, v in col.items() if k.startswith(prefix)), "")


def heldout_illustrations(md: str) -> set[str]:
    """The file names of the 'Held out for validation' bullet."""
    m = re.search(r"\*\*Held out for validation\*\*(.*?)(?:\n- \*\*|\n\n)", md, re.S)
    if not m:
        raise SystemExit("DATA.md: no 'Held out for validation' paragraph")
    names = set(re.findall(r"`([\w.-]+\.png)`", m.group(1)))
    if len(names) != 12:
        print(f"warning: {len(names)} held-out illustrations named, expected 12", file=sys.stderr)
    return names


def left_out(md: str) -> set[str]:
    """The file names under '### Left out'."""
    m = re.search(r"### Left out[^\n]*\n(.*?)(?:\n#)", md, re.S)
    return set(re.findall(r"^- ([\w.-]+\.png)", m.group(1), re.M)) if m else set()


def parse_rows(md: str) -> list[Row]:
    """Every row of every '### Files' table, with its output group."""
    held, dropped = heldout_illustrations(md), left_out(md)
    rows: list[Row] = []
    section = comment = ""
    in_files = False
    header: list[str] | None = None
    for line in md.splitlines():
        if line.startswith("## "):
            section, in_files = line[3:].strip(), False
        elif line.startswith("### "):
            in_files, comment = line[4:].strip() == "Files", ""
        elif line.startswith("<!--"):
            comment = line.strip("<!-> \t").strip("/")
        if not line.startswith("|"):
            header = None  # a table ends at its first non-table line
        if not (in_files and line.startswith("|")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "file":
            header = [c.lower() for c in cells]
            continue
        if header is None or set(cells[0]) <= {"-", ":"}:
            continue
        col = {h: cells[i] for i, h in enumerate(header)}
        raw = col["file"].rstrip("*").strip()
        crop = _cell(col, "crop")
        frame_cell = _cell(col, "frame")
        frame = re.search(r"frame (\d+)", frame_cell)
        render = re.search(r"render (\d+)x(\d+)", frame_cell)
        box = _ints(crop.split("(")[0]) if crop else []
        src = re.search(r"source (\d+)x(\d+)", crop)
        size = _size(_cell(col, "size"))
        if size is None:
            print(f"warning: no size for {raw}", file=sys.stderr)
            continue
        if section.startswith("Illustrations"):
            name, table = raw, "illus"
            if name in dropped:
                continue
            group = "heldout/illus" if name in held else "train/illus"
        elif section.startswith("Broadcast"):
            table = "broadcast"
            if raw.startswith("held out:"):
                name, group = raw.split(":", 1)[1].strip(), "heldout/broadcast"
            else:
                name, group = raw.split("/")[-1], "train/broadcast"
        else:  # line art and film grain: the table's HTML comment names its folder
            name, table = raw.split("/")[-1], comment
            group = "train/illus" if comment == "train/lineart" else comment
            if not group.startswith(("heldout/", "train/")):
                print(f"warning: {raw}: table without a folder comment, skipped", file=sys.stderr)
                continue
        rows.append(
            Row(
                name=name,
                group=group,
                table=table,
                repo=col["source repository"],
                path=col["path in repository"].strip("`"),
                commit=col["commit"],
                frame=int(frame.group(1)) if frame else None,
                render=(int(render.group(1)), int(render.group(2))) if render else None,
                box=tuple(box) if len(box) == 4 else None,  # type: ignore[arg-type]
                source_size=(int(src.group(1)), int(src.group(2))) if src else None,
                scale=float(_cell(col, "scale") or 1),
                size=size,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------------------- sources


class Mirrors:
    """Blobs of the repository snapshots under one root (``owner+name/repo`` git directories)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fallbacks: set[str] = set()
        self._commits: dict[tuple[str, str], str] = {}

    def git_dir(self, repo: str) -> Path:
        base = self.root / repo.replace("/", "+") / "repo"
        for cand in (base / ".git", base):
            if (cand / "HEAD").exists() or (cand / "objects").is_dir():
                return cand
        raise FileNotFoundError(f"no snapshot of {repo} under {self.root} (fetch github:{repo})")

    def _git(self, repo: str, *args: str) -> bytes:
        cmd = ["git", "--git-dir", str(self.git_dir(repo)), *args]
        return subprocess.run(cmd, check=True, capture_output=True).stdout

    def commit(self, repo: str, commit: str) -> str:
        """The listed commit, or HEAD (recorded in ``fallbacks``) when the snapshot lacks it."""
        if (repo, commit) not in self._commits:
            try:
                self._git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
                used = commit
            except subprocess.CalledProcessError:
                used = self._git(repo, "rev-parse", "HEAD").decode().strip()
                self.fallbacks.add(f"{repo}: commit {commit} not in snapshot, used HEAD {used}")
            self._commits[repo, commit] = used
        return self._commits[repo, commit]

    def blob(self, repo: str, commit: str, path: str) -> bytes:
        return self._git(repo, "show", f"{self.commit(repo, commit)}:{path}")

    def export(self, repo: str, commit: str, into: Path) -> None:
        """The whole tree at ``commit`` into a folder (for renders that read sibling files)."""
        tar = self._git(repo, "archive", self.commit(repo, commit))
        subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)


def video_frame(data: bytes, n: int, suffix: str) -> Image.Image:
    """Frame ``n`` (counted from 0, every decoded frame) of a video, as RGB."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        rgb_png = ["-vsync", "0", "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "image2pipe", "-vcodec", "png", "-"]
        cmd = ["ffmpeg", "-v", "error", "-i", f.name, "-vf", f"select=eq(n\\,{n})", *rgb_png]
        out = subprocess.run(cmd, check=True, capture_output=True).stdout
    if not out:
        raise RuntimeError(f"ffmpeg gave no frame {n}")
    return Image.open(io.BytesIO(out))


def synfig_render(mirrors: Mirrors, row: Row) -> Image.Image:
    """Render a .sif at the row's render size, frame 0 (needs synfig)."""
    if shutil.which("synfig") is None:
        raise SkipRow("synfig not installed (Debian package 'synfig')")
    w, h = row.render or (0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        mirrors.export(row.repo, row.commit, Path(tmp))
        out = Path(tmp) / "render.png"
        size = ["-w", str(w), "-h", str(h)]
        cmd = ["synfig", "-q", str(Path(tmp) / row.path), "-t", "png", *size, "--time", "0", "-o", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        img = Image.open(out)
        img.load()
        return img


class SkipRow(Exception):
    """A row that cannot be rebuilt here (reason in the message)."""


_frames: dict[tuple[str, str, str, int | None], Image.Image] = {}


def load_source(mirrors: Mirrors, row: Row) -> Image.Image:
    """The source picture of a row (image, video frame or render), as RGB on white."""
    key = (row.repo, row.commit, row.path, row.frame)
    if key not in _frames:
        suffix = Path(row.path).suffix.lower()
        if suffix == ".sif":
            img = synfig_render(mirrors, row)
        elif suffix in VIDEO_EXTS:
            img = video_frame(mirrors.blob(row.repo, row.commit, row.path), row.frame or 0, suffix)
        else:
            img = Image.open(io.BytesIO(mirrors.blob(row.repo, row.commit, row.path)))
            img.load()
        if len(_frames) > 8:  # keep a few decoded sources: crops of one source are adjacent rows
            _frames.clear()
        _frames[key] = to_rgb(img)
    return _frames[key]


# ------------------------------------------------------------------------------------------------------ processing


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any alpha flattened onto white (16-bit greys reduced to 8 bits)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = Image.fromarray((np.asarray(img, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def crop(img: Image.Image, box: Box) -> Image.Image:
    """The box in source pixels; parts past the source repeat its edge pixels."""
    x0, y0, x1, y1 = box
    w, h = img.size
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return img.crop(box)
    a = np.asarray(img)
    pad = ((max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)), (0, 0))
    a = np.pad(a, pad, mode="edge")
    ox, oy = max(0, -x0), max(0, -y0)
    return Image.fromarray(a[y0 + oy : y1 + oy, x0 + ox : x1 + ox])


def rescale(img: Image.Image, scale: float) -> Image.Image:
    """0.5 (and below) by box/area, other factors by Lanczos; sizes rounded to nearest."""
    if scale == 1:
        return img
    size = (round(img.width * scale), round(img.height * scale))
    return img.resize(size, Image.Resampling.BOX if scale <= 0.5 else Image.Resampling.LANCZOS)


def centre_crop(img: Image.Image, max_size: Size) -> Image.Image:
    cw, ch = min(img.width, max_size[0]), min(img.height, max_size[1])
    x0, y0 = (img.width - cw) // 2, (img.height - ch) // 2
    return img.crop((x0, y0, x0 + cw, y0 + ch))


def build(mirrors: Mirrors, row: Row, notes: list[str]) -> Image.Image:
    """The row's image; size checks go to ``notes``."""
    src = load_source(mirrors, row)
    if row.source_size and src.size != row.source_size:
        notes.append(
            f"{row.group}/{row.name}: source is {src.width}x{src.height}, "
            f"table says {row.source_size[0]}x{row.source_size[1]}"
        )
    img = crop(src, row.box) if row.box else src
    img = rescale(img, row.scale)
    if img.size != row.size:
        notes.append(
            f"SIZE MISMATCH {row.group}/{row.name}: got {img.width}x{img.height}, "
            f"table says {row.size[0]}x{row.size[1]}"
        )
    if row.group == "heldout/illus":
        img = centre_crop(img, HELDOUT_MAX)
    return img


def output_names(rows: list[Row]) -> dict[int, tuple[str, str | None]]:
    """Per row index: its name in its group folder and, for held-out rows, in ``heldout/all``."""
    out: dict[int, tuple[str, str | None]] = {}
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_group[r.group][r.name] += 1
    held_names = Counter(r.name for r in rows if r.group.startswith("heldout/"))
    for i, r in enumerate(rows):
        name = r.name
        if by_group[r.group][name] > 1:  # e.g. an illustration and a line-art picture of one name
            name = f"{r.table.split('/')[-1]}_{name}"
        flat = None
        if r.group.startswith("heldout/"):
            flat = f"{r.group.split('/')[1]}_{r.name}" if held_names[r.name] > 1 else r.name
        out[i] = (name, flat)
    return out


# ------------------------------------------------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    ap.add_argument(
        "--mirrors",
        type=Path,
        required=True,
        help="folder of repository snapshots: MIRRORS/owner+name/repo is a git directory",
    )
    ap.add_argument("--out", type=Path, default=Path("/work/data"), help="output root (default /work/data)")
    ap.add_argument("--data-md", type=Path, default=DEFAULT_DATA_MD, help="DATA.md to read")
    ap.add_argument("--only", choices=("heldout", "train"), help="rebuild only one side of the split")
    args = ap.parse_args()

    rows = parse_rows(args.data_md.read_text(encoding="utf-8"))
    rows.sort(key=lambda r: (not r.group.startswith("heldout/"), r.group, r.name))  # held-out first
    names = output_names(rows)
    mirrors = Mirrors(args.mirrors)
    done: Counter[str] = Counter()
    notes: list[str] = []
    skipped: list[str] = []
    for i, row in enumerate(rows):
        if args.only and not row.group.startswith(args.only + "/"):
            continue
        name, flat = names[i]
        try:
            img = build(mirrors, row, notes)
        except SkipRow as e:
            skipped.append(f"{row.group}/{row.name}: {e}")
            continue
        except (subprocess.CalledProcessError, FileNotFoundError, RuntimeError, OSError) as e:
            err = e.stderr.decode(errors="replace")[-300:] if isinstance(e, subprocess.CalledProcessError) else e
            skipped.append(f"{row.group}/{row.name}: failed: {err}")
            continue
        targets = [args.out / row.group / name] + ([args.out / "heldout" / "all" / flat] if flat else [])
        for t in targets:
            t.parent.mkdir(parents=True, exist_ok=True)
            img.save(t, format="PNG")
        done[row.group] += 1
        if flat:
            done["heldout/all"] += 1
        print(f"{row.group}/{name}  {img.width}x{img.height}", flush=True)

    print("\n== summary ==")
    for group in sorted(done):
        print(f"{group}: {done[group]} rebuilt")
    print(f"size checks: {sum('MISMATCH' in n for n in notes)} mismatch(es)")
    for n in notes:
        print(f"  {n}")
    print(f"skipped: {len(skipped)}")
    for s in skipped:
        print(f"  {s}")
    print(f"commit fallbacks: {len(mirrors.fallbacks)}")
    for f in sorted(mirrors.fallbacks):
        print(f"  {f}")
    return 1 if any("MISMATCH" in n for n in notes) or any("failed" in s for s in skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
