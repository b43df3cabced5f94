"""H.264 artefacts for training inputs: the compression video frames carry, which JPEG only imitates.

A share of a bank's LR luma patches is tiled into frames (each tile padded to whole 16x16 macroblocks, so no
macroblock straddles two patches), each frame coded by x264 as one intra frame at a random CRF, decoded, and cut
back apart. Sources reach the player as H.264/HEVC; their I-frames look like this, and a still frame through x264
is what ``kizunasr bench --fidelity`` scores as "compressed" (at CRF 23, on other frames).
"""

from __future__ import annotations

import subprocess

import numpy as np
import torch

from kizunasr_vs.core.errors import InputError

MACROBLOCK = 16
TILES_PER_SIDE = 8
PATCHES_PER_FRAME = TILES_PER_SIDE ** 2  # a CRF per frame of 8 x 8 patches
CRF_RANGE = (18, 30)  # from a careful encode to a streaming one


def x264_luma(y: np.ndarray, crf: int) -> np.ndarray:
    """``y`` (uint8 H x W, both multiples of 16) coded by x264 at ``crf`` as one 4:2:0 intra frame (grey chroma),
    and decoded: the luma plane that comes back."""
    h, w = y.shape
    if h % MACROBLOCK or w % MACROBLOCK:
        raise InputError(f"x264_luma: the frame must be whole macroblocks (multiples of 16), not {w}x{h}")
    chroma = np.full(h * w // 2, 128, np.uint8)
    raw = np.ascontiguousarray(y, np.uint8).tobytes() + chroma.tobytes()
    encode = ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-i", "-",
              "-c:v", "libx264", "-crf", str(crf), "-f", "h264", "-"]
    decode = ["ffmpeg", "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    try:
        stream = subprocess.run(encode, input=raw, check=True, capture_output=True).stdout
        out = subprocess.run(decode, input=stream, check=True, capture_output=True).stdout
    except FileNotFoundError as exc:
        raise InputError("H.264 training inputs need ffmpeg with libx264: apt-get install ffmpeg") from exc
    except subprocess.CalledProcessError as exc:
        raise InputError(f"ffmpeg failed on a training frame: {exc.stderr.decode(errors='replace')[-300:]}") from exc
    return np.frombuffer(out, np.uint8, h * w).reshape(h, w)


def _cell(i: int, cell: int) -> tuple[slice, slice]:
    """Rows and columns of tile ``i`` (row by row) in a frame of ``cell`` x ``cell`` tiles."""
    r, c = divmod(i, TILES_PER_SIDE)
    return slice(r * cell, (r + 1) * cell), slice(c * cell, (c + 1) * cell)


def h264_patches(patches: np.ndarray, crf: int) -> np.ndarray:
    """uint8 N x P x P patches, each as it comes back from x264 at ``crf`` (in frames of up to 64 patches, each
    patch edge-padded to whole macroblocks)."""
    n, p, _ = patches.shape
    cell = -(-p // MACROBLOCK) * MACROBLOCK
    out = np.empty_like(patches)
    for start in range(0, n, PATCHES_PER_FRAME):
        group = patches[start:start + PATCHES_PER_FRAME]
        frame = np.zeros((TILES_PER_SIDE * cell, TILES_PER_SIDE * cell), np.uint8)
        for i, patch in enumerate(group):
            frame[_cell(i, cell)] = np.pad(patch, (0, cell - p), mode="edge")
        coded = x264_luma(frame, crf)
        for i in range(len(group)):
            out[start + i] = coded[_cell(i, cell)][:p, :p]
    return out


def compress_share(lr: torch.Tensor, share: float, seed: int,
                   crf_range: tuple[int, int] = CRF_RANGE) -> torch.Tensor:
    """``lr`` (N x 1 x P x P luma in [0, 1]) with a random ``share`` of its patches, rounded to 8-bit codes,
    replaced by their x264 versions, 64 patches to a CRF drawn from ``crf_range`` (inclusive); a new tensor."""
    if not 0.0 <= share <= 1.0:
        raise InputError(f"the H.264 share must be in [0, 1], not {share}")
    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(rng.random(len(lr)) < share)
    out = lr.clone()
    for start in range(0, len(chosen), PATCHES_PER_FRAME):
        idx = torch.from_numpy(chosen[start:start + PATCHES_PER_FRAME])
        codes = (lr[idx, 0].float().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        crf = int(rng.integers(crf_range[0], crf_range[1] + 1))
        out[idx, 0] = torch.from_numpy(h264_patches(codes, crf)).to(lr.dtype) / 255
    return out
