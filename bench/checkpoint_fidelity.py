#!/usr/bin/env python3
"""Luma PSNR of training checkpoints, before they are compiled: how the learned shaders' stages were chosen.

Each run folder's ``checkpoint_<tier>.pt`` files are scored on a folder of held-out HR images with the degradations of
``kizunasr bench --fidelity`` (Catmull-Rom 2x reduction; clean, and x264 CRF 23), the network run by PyTorch on
the coded (limited-range) luma as mpv's LUMA hook hands it over. A compiled shader equals its network to about
70 dB, so these figures match the bench's to within a few hundredths of a dB, in seconds instead of minutes.

Usage: python bench/checkpoint_fidelity.py HELD_OUT_DIR RUN_DIR|ONNX [...]   (needs the torch extra)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import vapoursynth as vs

from kizunasr_vs.cli import fidelity
from kizunasr_vs.core.metrics import psnr
from kizunasr_vs.train.arch import LumaNet, build
from kizunasr_vs.train.data import LIMITED_OFFSET, LIMITED_SCALE
from kizunasr_vs.train.export import network_from_onnx
from kizunasr_vs.train.loop import load_checkpoint
from kizunasr_vs.train.tiers import Tier, tier_of


def load_networks(runs: list[Path]) -> dict[str, LumaNet]:
    """Every network in the run folders (``checkpoint_<tier>.pt``, named ``run:tier``) and ONNX files (by stem)."""
    nets = {}
    for run in runs:
        if run.suffix == ".onnx":  # an exported network, e.g. a shipped shader's
            nets[run.stem] = network_from_onnx(run)
            continue
        for path in sorted(run.glob("checkpoint_*.pt")):
            state = load_checkpoint(path)
            assert state is not None
            tier = state["tier"]
            shape = (Tier(tier, state["features"], state["body"], state.get("dense", False), state.get("crelu", False))
                     if "crelu" in state else tier_of(tier))
            net = build(shape)
            net.load_state_dict(state["model"])
            nets[f"{run.name}:{tier}"] = net.eval()
    if not nets:
        raise SystemExit(f"no checkpoint_<tier>.pt in {', '.join(map(str, runs))}")
    return nets


def coded_luma(clip: vs.VideoNode) -> np.ndarray:
    """Frame 0's luma as the shader sees it: code values over the 8-bit scale (16-bit codes are 256x)."""
    plane = np.asarray(clip.get_frame(0)[0], dtype=np.float32)
    return plane / (255.0 * 256 if clip.format.bits_per_sample == 16 else 255.0)


def upscale(net: LumaNet, y: np.ndarray) -> np.ndarray:
    """The network's 2x of limited-range luma ``y``, back to full range in [0, 1]."""
    with torch.no_grad():
        out = net(torch.from_numpy(y)[None, None])[0, 0].numpy().astype(np.float64)
    return np.clip((out - LIMITED_OFFSET) / LIMITED_SCALE, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("held_out", type=Path)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders or exported .onnx files")
    args = parser.parse_args()
    nets = load_networks(args.runs)
    scores: dict[str, dict[str, list[float]]] = {
        name: {kind: [] for kind in fidelity.DEGRADATIONS} for name in ["lanczos", *nets]}
    frames = fidelity.load_frames(args.held_out)
    for hr_y, kind, clip in fidelity.degraded_inputs(frames):
        scores["lanczos"][kind].append(psnr(fidelity.luma_of(fidelity.lanczos(clip)), hr_y, fidelity.BORDER))
        y = coded_luma(clip)
        for name, net in nets.items():
            scores[name][kind].append(psnr(upscale(net, y), hr_y, fidelity.BORDER))
    print(f"luma PSNR (dB), mean of {len(frames)} image(s) in {args.held_out}")
    for name, by_kind in scores.items():
        clean, compressed = np.mean(by_kind["clean"]), np.mean(by_kind["compressed"])
        print(f"{name:16s} clean {clean:.3f}  compressed {compressed:.3f}  mean {(clean + compressed) / 2:.3f}")


if __name__ == "__main__":
    main()
