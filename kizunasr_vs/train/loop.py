"""The training loop: Adam with a cosine schedule, L1 then L2 (PSNR) loss, resumable checkpoints, a progress bar.

Several tiers can train together on the same batches (the data pipeline, not the GPU, is what limits tiny
networks). Each tier's checkpoint (``checkpoint_<tier>.pt`` in the run folder) holds its network, optimiser, step
and the recipe; a run started again in the same folder continues from them. Checkpoints are written through a
temporary file every ``checkpoint_every`` steps and at the end, so an interrupted run loses at most that many.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional
from torch.utils.data import DataLoader
from tqdm import tqdm

from kizunasr_vs.core.errors import InputError
from kizunasr_vs.train.arch import LumaNet, build
from kizunasr_vs.train.codec import compress_share
from kizunasr_vs.train.data import PairStream, bank_batches, make_bank
from kizunasr_vs.train.degrade import ALL_FILTERS


@dataclass(frozen=True)
class Recipe:
    """Everything a training run depends on (kept in the checkpoint and written beside the weights)."""

    steps: int = 30000
    batch: int = 64
    patch: int = 48  # LR patch side; HR is twice that
    lr: float = 2e-3
    l2_from: float = 0.75  # fraction of the steps after which the loss is L2 (PSNR) instead of L1
    drawn_fraction: float = 0.3  # share of patches from drawn cel pictures
    blur_prob: float = 0.1  # share of patches blurred before the reduction
    jpeg_prob: float = 0.2  # share of patches JPEG-compressed after it
    h264_prob: float = 0.0  # share of patches coded by x264 as intra frames (train.codec), after that
    soft_prob: float = 0.3  # share of patches whose target is a production-upscaled (soft) picture
    grain_prob: float = 0.0  # share of patches with film grain and TV scanlines in the picture itself
    crisp_fraction: float = 0.0  # share of the drawn pictures that are crisp 1-2 pixel line art
    filters: tuple[str, ...] = ALL_FILTERS  # the reductions drawn from (names of degrade.DOWNSCALE_FILTERS)
    bank: int = 0  # pairs made once and drawn from in random batches (0: a fresh pair for every sample)
    balance_folders: bool = False  # recorded: the caller passes train() the folder weights (else each image alike)
    workers: int = 4
    seed: int = 0
    checkpoint_every: int = 1000


def _with_h264(batches: Iterator[Sequence[torch.Tensor]], share: float, seed: int
               ) -> Iterator[Sequence[torch.Tensor]]:
    """``batches`` with ``share`` of each batch's inputs coded by x264 (a new draw of patches and CRFs each time)."""
    for i, (lr, hr) in enumerate(batches):
        yield compress_share(lr, share, seed * 1_000_003 + i), hr


def learning_rate(recipe: Recipe, step: int) -> float:
    """Cosine decay from ``recipe.lr`` to 1% of it, after a 2% linear warm-up."""
    warm = max(1, recipe.steps // 50)
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, recipe.steps - warm)
    return recipe.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def checkpoint_path(folder: Path, tier: str) -> Path:
    return folder / f"checkpoint_{tier}.pt"


def save_checkpoint(path: Path, model: LumaNet, optimiser: torch.optim.Optimizer, step: int, recipe: Recipe) -> None:
    """Write a checkpoint through a temporary file, then rename it over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "tier": model.tier.name, "features": model.tier.features, "body": model.tier.body,
                "dense": model.tier.dense, "crelu": model.tier.crelu,
                "recipe": asdict(recipe)}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None


def _start(folder: Path, tiers: Sequence[str], recipe: Recipe, dev: torch.device, init: Path | None
           ) -> tuple[list[LumaNet], list[torch.optim.Optimizer], int]:
    """Resumed, initialised (weights from ``init``'s checkpoints, step 0) or fresh networks and optimisers, and the
    step they share (all tiers of a run move together)."""
    models: list[LumaNet] = []
    optimisers: list[torch.optim.Optimizer] = []
    steps: set[int] = set()
    for tier in tiers:
        model = build(tier).to(dev)
        optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        state = load_checkpoint(checkpoint_path(folder, tier))
        if state is not None:
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
        elif init is not None:
            model.load_state_dict(_initial_weights(init, tier, model))
        steps.add(int(state["step"]) if state else 0)
        models.append(model)
        optimisers.append(optimiser)
    if len(steps) > 1:
        raise InputError(f"the checkpoints in {folder} are at different steps ({sorted(steps)}): resume the tiers "
                         "separately, or use another --out folder")
    return models, optimisers, steps.pop()


def _initial_weights(init: Path, tier: str, model: LumaNet) -> dict[str, Any]:
    """The weights a new run of ``tier`` starts from: the tier's checkpoint in run folder ``init``, or the network
    of an exported ONNX file (a shipped shader's, ``kizunasr_vs/train/weights/*.onnx``) of the same shape."""
    if init.suffix == ".onnx":
        from kizunasr_vs.train.export import network_from_onnx

        net = network_from_onnx(init)
        if (net.tier.features, net.tier.body) != (model.tier.features, model.tier.body):
            raise InputError(f"--init: {init.name} is {net.tier.features}x{net.tier.body} (features x body), tier "
                             f"{tier!r} is {model.tier.features}x{model.tier.body}")
        return net.state_dict()
    start_from = load_checkpoint(checkpoint_path(init, tier))
    if start_from is None:
        raise InputError(f"--init: no checkpoint of tier {tier!r} in {init}")
    return dict(start_from["model"])


def train(images: list[Path], folder: Path, tiers: Sequence[str], recipe: Recipe, device: str = "auto",
          progress: bool = True, init: Path | None = None, weights: Sequence[float] | None = None) -> list[LumaNet]:
    """Train (or go on training) networks of ``tiers`` on ``images``, on the same batches; returns them on the
    CPU, in eval mode. ``init``: a run folder whose networks a new run starts from, or an exported ONNX file
    (fine-tuning); ``weights``:
    how often each image is drawn (default: all alike)."""
    folder.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    torch.manual_seed(recipe.seed)
    models, optimisers, start = _start(folder, tiers, recipe, dev, init)
    stream = PairStream(images, recipe.patch, recipe.drawn_fraction, recipe.seed + start,
                        recipe.blur_prob, recipe.jpeg_prob, recipe.soft_prob, weights, recipe.grain_prob,
                        recipe.crisp_fraction, recipe.filters)
    batches: Iterator[Sequence[torch.Tensor]]
    if recipe.bank:
        lr_bank, hr_bank = make_bank(stream, recipe.bank, recipe.batch, recipe.workers, progress,
                                     recipe.h264_prob, recipe.seed + start)
        batches = bank_batches(lr_bank.to(dev), hr_bank.to(dev), recipe.batch, recipe.seed + start)
    else:
        batches = iter(DataLoader(stream, batch_size=recipe.batch, num_workers=recipe.workers,
                                  persistent_workers=recipe.workers > 0, pin_memory=dev.type == "cuda"))
        if recipe.h264_prob:
            batches = _with_h264(batches, recipe.h264_prob, recipe.seed + start)
    for model in models:
        model.train()
    bar = tqdm(range(start, recipe.steps), initial=start, total=recipe.steps, disable=not progress,
               desc="train " + "+".join(tiers), unit="step")
    for step in bar:
        lr_y, hr_y = (t.to(dev, non_blocking=True) for t in next(batches))
        loss_fn = functional.mse_loss if step >= recipe.l2_from * recipe.steps else functional.l1_loss
        losses = []
        for model, optimiser in zip(models, optimisers, strict=True):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(recipe, step)
            loss = loss_fn(model(lr_y), hr_y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss)
        if step % 100 == 0:
            bar.set_postfix(loss=" ".join(f"{loss.item():.5f}" for loss in losses))
        if (step + 1) % recipe.checkpoint_every == 0 or step + 1 == recipe.steps:
            for model, optimiser in zip(models, optimisers, strict=True):
                save_checkpoint(checkpoint_path(folder, model.tier.name), model, optimiser, step + 1, recipe)
            if not progress:  # a line per checkpoint for logs
                print(f"train: step {step + 1}/{recipe.steps}, loss "
                      + " ".join(f"{loss.item():.5f}" for loss in losses), file=sys.stderr, flush=True)
    return [model.cpu().eval() for model in models]
