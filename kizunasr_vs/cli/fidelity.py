"""`kizunasr bench --fidelity DIR`: how close 2x upscalers get to the original, on frames you choose.

Each image in DIR is the ground truth (HR). It is reduced 2x (by default zimg Bicubic b=0 c=0.5, Catmull-Rom, the
kernel of MATLAB's imresize; ``--reduction`` picks one of PIL's antialiased filters instead, the reductions
``kizunasr train --filters`` draws from, to see how a method copes with a source made another way; 8-bit RGB) and
handed to every method as a BT.709 limited-range video frame in two states:

* ``clean``: the reduced frame as it is (4:4:4);
* ``compressed``: the reduced frame after H.264 (x264 at its default CRF 23, 4:2:0, one intra frame), as a stream
  would carry it.

Methods: ``lanczos`` (zimg, 3 taps), each ``--shader`` (a list runs as one chain) and each ``--profile``'s realtime
chain for the reduced height, all through ``kizunasr_vs.shader``. Scores: luma (BT.709) PSNR and SSIM against
the original, 4-pixel border cropped, averaged over the images.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vapoursynth as vs

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.formats import RANGE_FULL, RANGE_LIMITED
from kizunasr_vs.core.metrics import psnr, ssim
from kizunasr_vs.core.resources import shader_path

DEGRADATIONS = ("clean", "compressed")
CATMULL_ROM = "catmull-rom"
PIL_REDUCTIONS = ("box", "bilinear", "bicubic", "lanczos", "hamming")  # PIL's antialiased filters, by name
REDUCTIONS = (CATMULL_ROM, *PIL_REDUCTIONS)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])
BORDER = 4
X264_CRF = 23  # x264's default

Method = Callable[[vs.VideoNode], vs.VideoNode]


class FidelityError(KizunaError, ValueError):
    """A fidelity run that cannot start (no images, a missing tool)."""


@dataclass(frozen=True)
class Score:
    method: str
    degradation: str
    psnr: float
    ssim: float


def load_frames(folder: Path) -> list[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8 RGB cropped to sides divisible by 4) for every image in ``folder``: the 2x
    reduction then has even sides, as the 4:2:0 compressed state needs."""
    from PIL import Image

    if not folder.is_dir():
        raise FidelityError(f"--fidelity: {folder} is not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FidelityError(f"--fidelity: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    frames = []
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        frames.append((path.name, rgb[: rgb.shape[0] // 4 * 4, : rgb.shape[1] // 4 * 4]))
    return frames


def _rgb_clip(rgb: np.ndarray) -> vs.VideoNode:
    h, w, _ = rgb.shape
    blank = vs.core.std.BlankClip(format=vs.RGB24, width=w, height=h, length=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i in range(3):
            np.copyto(np.asarray(out[i]), rgb[..., i])
        return out

    clip = vs.core.std.ModifyFrame(blank, blank, fill)
    return vs.core.std.SetFrameProps(clip, _Matrix=0, _Range=RANGE_FULL, _Primaries=1, _Transfer=1)


def reduce_2x(rgb: np.ndarray, reduction: str = CATMULL_ROM) -> np.ndarray:
    """``rgb`` reduced 2x (``reduction``: one of REDUCTIONS), back to 8-bit RGB."""
    h, w, _ = rgb.shape
    if reduction in PIL_REDUCTIONS:
        from PIL import Image

        return np.asarray(Image.fromarray(rgb).resize((w // 2, h // 2), getattr(Image.Resampling, reduction.upper())))
    if reduction != CATMULL_ROM:
        raise FidelityError(f"unknown reduction {reduction!r}: choose one of {', '.join(REDUCTIONS)}")
    small = vs.core.resize.Bicubic(_rgb_clip(rgb), w // 2, h // 2, filter_param_a=0, filter_param_b=0.5)
    frame = small.get_frame(0)
    return np.stack([np.asarray(frame[i]) for i in range(3)], axis=-1).copy()


def _tag(clip: vs.VideoNode) -> vs.VideoNode:
    return vs.core.std.SetFrameProps(clip, _Matrix=1, _Primaries=1, _Transfer=1, _Range=RANGE_LIMITED,
                                     _ChromaLocation=0)


def clean_clip(lr: np.ndarray) -> vs.VideoNode:
    """The reduced frame as BT.709 limited-range YUV444P16."""
    return _tag(vs.core.resize.Point(_rgb_clip(lr), format=vs.YUV444P16, matrix_s="709", range_s="limited"))


def compressed_clip(lr: np.ndarray) -> vs.VideoNode:
    """The reduced frame through x264 (CRF 23, 4:2:0, BT.709 limited) and back, as YUV420P8."""
    h, w, _ = lr.shape
    with tempfile.TemporaryDirectory(prefix="kizunasr-fidelity-") as tmp:
        stream = Path(tmp) / "frame.mkv"
        encode = ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
                  "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", "-c:v", "libx264",
                  "-crf", str(X264_CRF), "-colorspace", "bt709", "-color_range", "tv", str(stream)]
        try:
            subprocess.run(encode, input=lr.tobytes(), check=True, capture_output=True)
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(stream), "-f", "rawvideo", "-pix_fmt",
                                  "yuv420p", "-"], check=True, capture_output=True).stdout
        except FileNotFoundError as exc:
            raise FidelityError("--fidelity: ffmpeg not found; install it (apt-get install ffmpeg)") from exc
        except subprocess.CalledProcessError as exc:
            raise FidelityError(f"--fidelity: ffmpeg failed: {exc.stderr.decode(errors='replace')[-500:]}") from exc
    y = np.frombuffer(raw, np.uint8, w * h).reshape(h, w)
    u = np.frombuffer(raw, np.uint8, w * h // 4, w * h).reshape(h // 2, w // 2)
    v = np.frombuffer(raw, np.uint8, w * h // 4, w * h * 5 // 4).reshape(h // 2, w // 2)
    blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=w, height=h, length=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i, plane in enumerate((y, u, v)):
            np.copyto(np.asarray(out[i]), plane)
        return out

    return _tag(vs.core.std.ModifyFrame(blank, blank, fill))


def luma_of(clip: vs.VideoNode) -> np.ndarray:
    """The luma of frame 0 of a YUV clip as float in [0, 1] (full range)."""
    gray = vs.core.resize.Point(clip, format=vs.GRAYS, range_in_s="limited", range_s="full")
    return np.array(gray.get_frame(0)[0], dtype=np.float64)


def lanczos(clip: vs.VideoNode) -> vs.VideoNode:
    return vs.core.resize.Lanczos(clip, clip.width * 2, clip.height * 2, filter_param_a=3)


def shader_method(shaders: Sequence[str]) -> Method:
    """A method running ``shaders`` (files or built-in names) as one chain, to 2x."""
    from kizunasr_vs.render.placebo import shader

    paths = [str(shader_path(s)) for s in shaders]
    return lambda clip: shader(clip, paths, width=clip.width * 2, height=clip.height * 2)


def profile_method(name: str, lr_height: int) -> Method:
    """The realtime chain of profile ``name`` for sources of ``lr_height`` lines."""
    from kizunasr_vs.profiles.loader import load_profile

    steps = load_profile(name).for_height(lr_height).realtime
    if not steps:
        return lambda clip: vs.core.resize.Bilinear(clip, clip.width * 2, clip.height * 2)
    return shader_method([step["shader"] for step in steps])


def degraded_inputs(frames: Sequence[tuple[str, np.ndarray]], reduction: str = CATMULL_ROM
                    ) -> Iterator[tuple[np.ndarray, str, vs.VideoNode]]:
    """For every HR frame and every degradation: (the frame's luma in [0, 1], the degradation's name, the reduced
    frame in that state as a clip), the inputs every method is scored on."""
    for _, hr in frames:
        hr_y = (hr.astype(np.float64) / 255.0) @ LUMA_709
        lr = reduce_2x(hr, reduction)
        for degradation, make in zip(DEGRADATIONS, (clean_clip, compressed_clip), strict=True):
            yield hr_y, degradation, make(lr)


def evaluate(frames: Sequence[tuple[str, np.ndarray]], methods: dict[str, Method],
             reduction: str = CATMULL_ROM) -> list[Score]:
    """Mean luma PSNR / SSIM of every method under every degradation."""
    sums: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for hr_y, degradation, clip in degraded_inputs(frames, reduction):
        for name, method in methods.items():
            out = luma_of(method(clip))
            sums.setdefault((name, degradation), []).append(
                (psnr(out, hr_y, BORDER), ssim(np.clip(out, 0, 1), hr_y, BORDER)))
    return [Score(name, deg, float(np.mean([p for p, _ in v])), float(np.mean([s for _, s in v])))
            for (name, deg), v in sums.items()]


def table(scores: Sequence[Score], images: int, reduction: str = CATMULL_ROM) -> str:
    """The scores as a Markdown table, one row per method, with the gain over lanczos."""
    by = {(s.method, s.degradation): s for s in scores}
    methods = list(dict.fromkeys(s.method for s in scores))
    how = "" if reduction == CATMULL_ROM else f" (reduced with {reduction})"
    lines = [f"luma PSNR (dB) / SSIM, 2x{how}, mean of {images} image(s); gain over lanczos in brackets",
             "", "| method | clean | compressed |", "|---|---|---|"]
    for m in methods:
        cells = []
        for d in DEGRADATIONS:
            s, base = by[(m, d)], by.get(("lanczos", d))
            gain = f" ({s.psnr - base.psnr:+.2f})" if base and m != "lanczos" else ""
            cells.append(f"{s.psnr:.2f}{gain} / {s.ssim:.4f}")
        lines.append(f"| {m} | {' | '.join(cells)} |")
    return "\n".join(lines)


def run_fidelity(folder: Path, shaders: Sequence[str], profiles: Sequence[str],
                 reduction: str = CATMULL_ROM) -> tuple[list[Score], str]:
    """Evaluate lanczos, each shader (one chain per ``--shader`` value, comma-separated files) and each profile,
    on the images of ``folder`` reduced with ``reduction``."""
    if reduction not in REDUCTIONS:
        raise FidelityError(f"--reduction {reduction!r}: choose one of {', '.join(REDUCTIONS)}")
    frames = load_frames(folder)
    lr_height = frames[0][1].shape[0] // 2
    methods: dict[str, Method] = {"lanczos": lanczos}
    for spec in shaders:
        name = Path(spec).stem if "," not in spec else spec
        methods[spec if name in methods else name] = shader_method(spec.split(","))  # same stem: the path
    for name in profiles:
        methods[f"profile {name}"] = profile_method(name, lr_height)
    scores = evaluate(frames, methods, reduction)
    return scores, table(scores, len(frames), reduction)
