"""Training pairs made on the fly: random crops of the user's frames and of drawn cel pictures, degraded.

Each sample is (LR luma patch, HR luma patch) as float32 arrays 1 x P x P and 1 x 2P x 2P. A source image is
first shrunk by a random factor (0.5-1: frames are often softer than their pixel count), cropped, flipped or
turned, degraded (``degrade``), and with probability 1/2 both patches move to limited range (16-235), since
mpv hands the LUMA hook a video's luma as it is coded. With ``soft_prob`` the HR patch itself is first made
soft, reduced 0.6-0.9x and enlarged back: most anime is produced below 1080p and upscaled, so a 1080p frame's
detail is softer than its pixel grid, and a network that only saw sharp targets over-sharpens them. With
``grain_prob`` the HR patch gets film grain and TV scanlines (``degrade.add_grain``); ``crisp_fraction`` of the
drawn pictures are crisp line art (``lineart.draw``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from kizunasr_vs.core.errors import InputError, NotFound
from kizunasr_vs.train import lineart
from kizunasr_vs.train.codec import compress_share
from kizunasr_vs.train.degrade import ALL_FILTERS, add_grain, checked_filters, luma_pair

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LIMITED_SCALE, LIMITED_OFFSET = 219 / 255, 16 / 255
DRAWN_POOL, DRAWN_SIZE = 16, 384  # drawn pictures each worker keeps, and their size


def find_images(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursively), sorted; an error names the folder when there are none."""
    if not folder.is_dir():
        raise NotFound(f"training frames folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NotFound(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return files


def folder_weights(images: Sequence[Path], root: Path) -> list[float]:
    """Sampling weights that give each top-level subfolder of ``root`` an equal share of the patches (the images
    directly in ``root`` form one more share), however many images each holds."""
    groups = [p.relative_to(root).parent.parts[:1] for p in images]  # () for an image directly in root
    counts = Counter(groups)
    return [1.0 / (len(counts) * counts[g]) for g in groups]


class PairStream(IterableDataset):
    """An endless stream of (LR, HR) luma patch pairs; each data-loader worker draws its own. With no images,
    every patch comes from drawn pictures. Images are drawn uniformly, or by ``weights`` (one per image)."""

    def __init__(self, images: Sequence[Path], patch: int, drawn_fraction: float, seed: int,
                 blur_prob: float = 0.1, jpeg_prob: float = 0.2, soft_prob: float = 0.3,
                 weights: Sequence[float] | None = None, grain_prob: float = 0.0, crisp_fraction: float = 0.0,
                 filters: Sequence[str] = ALL_FILTERS) -> None:
        super().__init__()
        self.filters = checked_filters(filters, "PairStream")
        self.blur_prob, self.jpeg_prob, self.soft_prob = blur_prob, jpeg_prob, soft_prob
        self.grain_prob, self.crisp_fraction = grain_prob, crisp_fraction
        self.images = list(images)
        self.probabilities: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, np.float64)
            if w.shape != (len(self.images),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise InputError("PairStream: weights must be one finite, non-negative number per image, not all zero")
            self.probabilities = w / w.sum()
        self.patch = patch
        self.drawn_fraction = drawn_fraction
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker = info.id if info else 0
        rng = np.random.default_rng([self.seed, worker])
        cache: dict[int, Image.Image] = {}
        drawn: list[Image.Image] = []
        while True:
            lr, hr = self.sample(rng, cache, drawn)
            yield torch.from_numpy(lr[None]), torch.from_numpy(hr[None])

    def crop(self, rng: np.random.Generator, cache: dict[int, Image.Image], drawn: list[Image.Image]) -> Image.Image:
        """An HR patch (2P x 2P): from a drawn picture (a pool of DRAWN_POOL, renewed slowly), or from one of the
        images at a random shrink factor (the crop is taken at 1/factor the size and reduced)."""
        side = 2 * self.patch
        if not self.images or rng.random() < self.drawn_fraction:
            if len(drawn) < DRAWN_POOL or rng.random() < 0.05:
                crisp = self.crisp_fraction > 0 and rng.random() < self.crisp_fraction
                picture = lineart.draw(max(DRAWN_SIZE, side), rng, crisp=crisp)
                if len(drawn) < DRAWN_POOL:
                    drawn.append(picture)
                else:
                    drawn[int(rng.integers(DRAWN_POOL))] = picture
            img, scale = drawn[int(rng.integers(len(drawn)))], 1.0
        else:
            i = int(rng.integers(len(self.images)) if self.probabilities is None
                    else rng.choice(len(self.images), p=self.probabilities))
            if i not in cache:
                with Image.open(self.images[i]) as im:
                    cache[i] = im.convert("RGB")
            img, scale = cache[i], rng.uniform(0.5, 1.0)
        region = min(round(side / scale), img.width, img.height)
        x, y = int(rng.integers(img.width - region + 1)), int(rng.integers(img.height - region + 1))
        patch = img.crop((x, y, x + region, y + region))
        return patch.resize((side, side), Image.Resampling.LANCZOS) if region != side else patch

    def sample(self, rng: np.random.Generator, cache: dict[int, Image.Image],
               drawn: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        hr = self.crop(rng, cache, drawn)
        if rng.random() < self.soft_prob:  # a frame made at a lower resolution and upscaled in production
            side = hr.width
            small = max(8, round(side * rng.uniform(0.6, 0.9)))
            hr = hr.resize((small, small), Image.Resampling.BICUBIC).resize((side, side), Image.Resampling.BICUBIC)
        if rng.random() < 0.5:
            hr = hr.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if rng.random() < 0.5:
            hr = hr.transpose(Image.Transpose.ROTATE_90)
        if self.grain_prob and rng.random() < self.grain_prob:  # after the turn: scanlines stay horizontal
            hr = add_grain(hr, rng)
        lr_y, hr_y = luma_pair(hr, rng, self.blur_prob, self.jpeg_prob, self.filters)
        if rng.random() < 0.5:
            lr_y, hr_y = lr_y * LIMITED_SCALE + LIMITED_OFFSET, hr_y * LIMITED_SCALE + LIMITED_OFFSET
        return lr_y.astype(np.float32), hr_y.astype(np.float32)


def make_bank(stream: PairStream, size: int, batch: int, workers: int, progress: bool = False,
              h264_share: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` pairs drawn from ``stream`` once, by ``workers`` processes, as float16 tensors (N x 1 x P x P and
    N x 1 x 2P x 2P): tiny networks train faster than pairs can be made, so a run draws its batches from a bank.
    ``h264_share`` of the inputs are then coded by x264 (``codec.compress_share``, drawn with ``seed``)."""
    from tqdm import tqdm

    loader = DataLoader(stream, batch_size=batch, num_workers=workers)
    lrs: list[torch.Tensor] = []
    hrs: list[torch.Tensor] = []
    with tqdm(total=size, disable=not progress, desc="pairs", unit="pair") as bar:
        for lr, hr in loader:
            lrs.append(lr.half())
            hrs.append(hr.half())
            bar.update(len(lr))
            if sum(len(x) for x in lrs) >= size:
                break
    lr_bank = torch.cat(lrs)[:size]
    if h264_share:
        lr_bank = compress_share(lr_bank, h264_share, seed)
    return lr_bank, torch.cat(hrs)[:size]


def bank_batches(lr: torch.Tensor, hr: torch.Tensor, batch: int, seed: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless random batches from a bank (on whatever device it lives), each turned by one of the 8 flips and
    quarter turns of the square, as float32."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    while True:
        idx = torch.randint(len(lr), (batch,), generator=gen).to(lr.device)
        flip_x, flip_y, turn = (bool(b) for b in torch.randint(2, (3,), generator=gen))
        pair = []
        for t in (lr[idx], hr[idx]):
            t = t.float()
            t = t.flip(3) if flip_x else t
            t = t.flip(2) if flip_y else t
            pair.append(t.transpose(2, 3) if turn else t)
        yield tuple(pair)
