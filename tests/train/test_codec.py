"""train.codec: LR patches through real x264 (ffmpeg), tiled into frames and cut back apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kizunasr_vs.core.errors import InputError
from kizunasr_vs.train.codec import compress_share, h264_patches, x264_luma


def test_lossless_coding_returns_every_patch_to_its_place() -> None:
    """At CRF 0 x264 is lossless, so any misplaced, padded or cropped tile shows; 70 patches of 20 x 20 (not whole
    macroblocks) fill more than one frame."""
    patches = np.random.default_rng(0).integers(0, 256, (70, 20, 20)).astype(np.uint8)
    assert np.array_equal(h264_patches(patches, 0), patches)


def test_lossy_coding_keeps_each_patch_level_and_loses_detail() -> None:
    """At CRF 30 each flat patch comes back at its own level (within 2 codes) and a noisy one loses detail."""
    levels = np.arange(20, 236, 4, dtype=np.uint8)
    flat = np.broadcast_to(levels[:, None, None], (len(levels), 24, 24)).copy()
    coded = h264_patches(flat, 30).astype(np.float64)
    assert np.abs(coded.mean(axis=(1, 2)) - levels).max() <= 2
    noisy = np.random.default_rng(1).integers(0, 256, (4, 48, 48)).astype(np.uint8)
    error = np.abs(h264_patches(noisy, 30).astype(np.float64) - noisy).mean()
    assert error > 8, error


def test_compress_share_codes_about_its_share_of_the_patches() -> None:
    rng = np.random.default_rng(2)
    lr = torch.from_numpy(rng.integers(0, 256, (400, 1, 32, 32)).astype(np.float32) / 255).half()
    assert torch.equal(compress_share(lr, 0.0, seed=0), lr)
    # CRF 0 (lossless): with the whole share coded, every patch comes back as its 8-bit codes
    assert torch.equal(compress_share(lr, 1.0, seed=0, crf_range=(0, 0)), lr)
    changed = (compress_share(lr, 0.5, seed=3, crf_range=(30, 30)) != lr).flatten(1).any(1).sum().item()
    assert 150 <= changed <= 250, changed  # binomial(400, 0.5): 4.5 sigma either side


def test_bad_frames_and_shares_are_refused() -> None:
    with pytest.raises(InputError, match="whole macroblocks.*24x16"):
        x264_luma(np.zeros((16, 24), np.uint8), 23)
    with pytest.raises(InputError, match="H.264 share must be in \\[0, 1\\], not 1.5"):
        compress_share(torch.zeros(2, 1, 8, 8), 1.5, seed=0)
