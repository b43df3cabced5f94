"""Helpers for tests/render/test_glsl_library.py: vs-placebo renders with libplacebo's log captured,
the ``//!`` block structure of the shader files, and mpv under Xvfb.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vapoursynth as vs

from kizunasr_vs.render import source as shader_source
from tests.conftest import REPO, shared_dir

GLSL = REPO / "glsl"
MEDIA = shared_dir() / "media"
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])
PL_BT709 = 2  # libplacebo pl_color_system for BT.709 (placebo.Shader's `matrix`)

core = vs.core


# ---------------------------------------------------------------------------------------------
# Shader text


@dataclass(frozen=True)
class Block:
    headers: tuple[str, ...]  # without the leading //!
    body: str

    @property
    def kind(self) -> str:
        return "PARAM" if self.headers[0].startswith("PARAM") else "PASS"

    def values(self, word: str) -> list[str]:
        return [h[len(word):].strip() for h in self.headers if h.split()[0] == word]


def split_blocks(text: str) -> list[Block]:
    """The ``//!`` blocks of a user shader (the package's libplacebo-like splitter), with their body text."""
    return [Block(b.headers, text[b.body_start:b.body_end]) for b in shader_source.split_blocks(text)]


def param_defaults(text: str) -> dict[str, str]:
    """{name: default value text} of the ``//!PARAM`` blocks."""
    return {b.values("PARAM")[0]: b.body.strip() for b in split_blocks(text) if b.kind == "PARAM"}


def ifndef_defaults(text: str) -> dict[str, list[str]]:
    """{name: [values]} of every ``#ifndef NAME / #define NAME value`` fallback in the file."""
    out: dict[str, list[str]] = {}
    for m in re.finditer(r"#ifndef\s+(\w+)\s*\n\s*#define\s+\1\s+(\S+)\s*\n\s*#endif", text):
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


def with_params(text: str, params: Mapping[str, float | int]) -> str:
    """Replace the default value of ``//!PARAM`` blocks (the value line follows the headers)."""
    for name, value in params.items():
        pat = re.compile(r"(//!PARAM " + re.escape(name) + r"\n(?://!.*\n)*)([^\n]*)")

        def repl(m: re.Match[str], v: float | int = value) -> str:
            return m.group(1) + str(v)

        text, n = pat.subn(repl, text)
        assert n == 1, f"param {name} not found"
    return text


def shader_text(name: str) -> str:
    return (GLSL / name).read_text()


# ---------------------------------------------------------------------------------------------
# Clips


def clip_444(planes: Sequence[np.ndarray]) -> vs.VideoNode:
    """YUV444P16 full-range BT.709 clip from three float planes (Y, U, V in [0, 1], 0.5 = grey)."""
    return _clip(planes, vs.YUV444P16)


def _clip(planes: Sequence[np.ndarray], fmt: int, **props: int) -> vs.VideoNode:
    h, w = planes[0].shape
    blank = core.std.BlankClip(format=fmt, width=w, height=h, length=1)
    arrays = [np.clip(np.rint(np.asarray(p, np.float64) * 65535), 0, 65535).astype(np.uint16) for p in planes]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i, a in enumerate(arrays):
            np.copyto(np.asarray(out[i]), a)
        return out

    clip = core.std.ModifyFrame(blank, blank, fill)
    return core.std.SetFrameProps(clip, _Matrix=1, _Transfer=1, _Primaries=1, _Range=1, _ChromaLocation=0,
                                  **props)


def clip_420(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> vs.VideoNode:
    """YUV420P16 full-range BT.709 clip (chroma planes at half size, left siting)."""
    return _clip([y, u, v], vs.YUV420P16)


def gray_444(y: np.ndarray) -> vs.VideoNode:
    """A grey (neutral chroma) YUV444P16 clip; its RGB equals Y in every channel."""
    half = np.full_like(y, 0.5)
    return clip_444([y, half, half])


def rgb_to_yuv444(rgb: np.ndarray) -> vs.VideoNode:
    """An RGB float image (H x W x 3, [0, 1]) as YUV444P16 full-range BT.709 (exact matrix)."""
    kr, kb = 0.2126, 0.0722
    y = rgb @ LUMA_709
    u = (rgb[..., 2] - y) / (2 * (1 - kb)) + 0.5
    v = (rgb[..., 0] - y) / (2 * (1 - kr)) + 0.5
    return clip_444([y, u, v])


def planes(clip: vs.VideoNode) -> list[np.ndarray]:
    """Frame 0's planes as float64 in [0, 1] (16-bit full range)."""
    f = clip.get_frame(0)
    return [np.asarray(f[i]).astype(np.float64) / 65535 for i in range(f.format.num_planes)]


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


# ---------------------------------------------------------------------------------------------
# Rendering


@contextlib.contextmanager
def captured_fd2() -> Iterator[list[str]]:
    """Redirect fd 2 (where vs-placebo's libplacebo logs, bypassing sys.stderr) into a temp file; the list gets
    its text at exit. For tests of raw ``placebo.Shader`` only: the package never redirects fd 2."""
    log: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            log.append(tmp.read().decode("utf-8", errors="replace"))


_ERROR = re.compile(r"error|failed|unrecognized", re.IGNORECASE)


def placebo_errors(log: str) -> list[str]:
    """libplacebo log lines reporting a parse / compile problem (ANSI colour codes removed)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in log.splitlines()]
    return [line for line in lines if _ERROR.search(line) and not line.lstrip().startswith("[")]


def render_raw(clip: vs.VideoNode, text: str, width: int | None = None, height: int | None = None,
               **kw: object) -> tuple[vs.VideoNode, str]:
    """``core.placebo.Shader`` on a YUVxxxP16 clip, frame 0 rendered with fd 2 captured.

    Returns (output clip with frame 0 cached by the caller's next get_frame, libplacebo log).
    """
    size = {} if width is None else {"width": width, "height": height}
    node = core.placebo.Shader(clip, shader_s=text.encode(), matrix=PL_BT709, **size, **kw)
    with captured_fd2() as log:
        frame = node.get_frame(0)
    out = core.std.BlankClip(node, length=1)
    out = core.std.ModifyFrame(out, out, lambda n, f: frame.copy())
    return out, log[0]


def kz_shader_available() -> bool:
    """``kizunasr_vs.shader`` exists (the shader filter module present and the package imports)."""
    if not (REPO / "kizunasr_vs" / "shader" / "placebo.py").is_file():
        return False
    try:
        import kizunasr_vs  # noqa: F401
    except Exception:
        return False
    return True


def run_shader(clip: vs.VideoNode, name: str, params: Mapping[str, float | int] | None = None,
               width: int | None = None, height: int | None = None) -> vs.VideoNode:
    """Run ``glsl/<name>`` on a YUV444P16 clip: through ``kizunasr_vs.shader`` when available,
    else ``core.placebo.Shader`` (output size from a 2x ``//!WIDTH``, params by text rewrite).
    Raises AssertionError if libplacebo logged an error (fallback path)."""
    if kz_shader_available():
        import kizunasr_vs

        return kizunasr_vs.shader(clip, str(GLSL / name), width=width, height=height, params=params or None)
    text = with_params(shader_text(name), params or {})
    if width is None and "//!WIDTH HOOKED.w 2 *" in text:
        width, height = clip.width * 2, clip.height * 2
    out, log = render_raw(clip, text, width, height)
    errors = placebo_errors(log)
    assert not errors, f"{name}: libplacebo errors: {errors[:5]}"
    return out


# ---------------------------------------------------------------------------------------------
# mpv under Xvfb


def free_display() -> int:
    """A display number with no X socket or lock file."""
    for n in range(90, 190):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@contextlib.contextmanager
def xvfb(width: int = 640, height: int = 480) -> Iterator[str]:
    """Start ``Xvfb :N`` (one screen of ``width`` x ``height``) and yield ``":N"`` once it accepts
    connections; the server is killed at exit. The one Xvfb helper of the tests."""
    n = free_display()
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = f"/tmp/.X11-unix/X{n}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Xvfb :{n} exited with {proc.returncode}")
            if os.path.exists(sock) and _can_connect(sock):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"Xvfb :{n} did not create {sock}")
        yield f":{n}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _can_connect(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


SCREENSHOT_LUA = """
local done = false
mp.register_event("playback-restart", function()
  if done then return end
  done = true
  mp.add_timeout(0.2, function()
    mp.commandv("screenshot-to-file", os.getenv("KZ_SHOT"), os.getenv("KZ_MODE") or "video")
    mp.command("quit")
  end)
end)
"""


@dataclass
class MpvRun:
    returncode: int
    log: str
    screenshot: Path | None


def run_mpv(display: str, media: Path, shaders: Sequence[Path], workdir: Path, vo: str = "gpu",
            extra: Sequence[str] = (), timeout: float = 60, mode: str = "video") -> MpvRun:
    """Play ``media`` once in mpv with the shaders and a screenshot script; debug log returned.

    Once playback starts a screenshot is written to ``workdir/shot_N.png`` and mpv quits.
    ``mode``: "video" (the video rendered at its native size, shaders applied, no OSD) or
    "window" (the window contents, i.e. at the window size).
    """
    script = workdir / "kz_shot.lua"
    script.write_text(SCREENSHOT_LUA)
    shot = workdir / f"shot_{len(list(workdir.glob('shot_*.png')))}.png"
    cmd = ["mpv", "--no-config", f"--vo={vo}", "--gpu-sw=yes", "--no-audio", "--image-display-duration=inf",
           "--msg-level=all=debug", f"--script={script}", "--screenshot-format=png",
           "--screenshot-png-compression=0", *extra]
    cmd += [f"--glsl-shader={s}" for s in shaders]
    cmd.append(str(media))
    env = dict(os.environ, DISPLAY=display, KZ_SHOT=str(shot), KZ_MODE=mode, XDG_RUNTIME_DIR=str(workdir),
               LIBGL_ALWAYS_SOFTWARE="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return MpvRun(proc.returncode, proc.stdout + proc.stderr, shot if shot.exists() else None)


_SRC_LINE = re.compile(r"^\[vo/[^\]]*\] \[\s*\d+\] ?(.*)$")
MPV_PARAM_NOTICE = re.compile(r"Unrecognized command 'PARAM \w+'!")
# shader problems as mpv (vo=gpu) and its libplacebo (vo=gpu-next) report them
_MPV_ERROR = re.compile(
    r"\(status=0\)|\d+:\d+\(\d+\): error|: error|Unrecognized command|Error parsing|Failed (compiling|creating|"
    r"executing|to parse)|disabling user shader|Unknown (variable|texture)|not found|Unsupported", re.IGNORECASE)


def mpv_compiled_source(log: str) -> set[str]:
    """The stripped source lines of every shader mpv printed (with --msg-level=all=debug)."""
    out = set()
    for line in log.splitlines():
        m = _SRC_LINE.match(line)
        if m:
            out.add(m.group(1).strip())
    return out


def mpv_errors(log: str, allow_param_notice: bool = True) -> list[str]:
    """Log lines of the video output that report a shader problem (source dumps excluded).

    mpv 0.35's vo=gpu has no ``//!PARAM`` support: it logs "Unrecognized command 'PARAM x'!"
    once per shader load and keeps the passes parsed before it; with ``allow_param_notice`` that
    line is not counted.
    """
    bad = []
    for line in log.splitlines():
        if not line.startswith("[vo") or _SRC_LINE.match(line):
            continue
        if allow_param_notice and MPV_PARAM_NOTICE.search(line):
            continue
        if _MPV_ERROR.search(line):
            bad.append(line.strip())
    return bad


def mpv_version() -> tuple[int, int]:
    out = subprocess.run(["mpv", "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"mpv v?(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def strip_params(text: str) -> str:
    """The file without its trailing ``//!PARAM`` blocks (README: for libplacebo without PARAM)."""
    i = text.find("//!PARAM")
    return text if i < 0 else text[:i]


def write_y4m(path: Path, planes: Sequence[np.ndarray], chroma: str = "444", full_range: bool = True) -> None:
    """A one-frame 8-bit YUV4MPEG2 file (planes as uint8 arrays; chroma "444" or "420mpeg2")."""
    h, w = planes[0].shape
    rng = " XCOLORRANGE=FULL" if full_range else ""
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C{chroma}{rng}\n".encode())
        f.write(b"FRAME\n" + b"".join(np.ascontiguousarray(p, np.uint8).tobytes() for p in planes))


def pass_bodies(text: str) -> list[tuple[str, list[str]]]:
    """[(DESC, significant body lines)] of every hook pass in a shader file."""
    out = []
    for b in split_blocks(text):
        if b.kind != "PASS":
            continue
        lines = [ln.strip() for ln in b.body.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("//")]
        out.append((b.values("DESC")[0], lines))
    return out


def have_mpv() -> str | None:
    """None if mpv and Xvfb are usable, else the reason to skip."""
    for tool in ("mpv", "Xvfb"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None
